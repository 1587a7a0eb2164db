"""Test certificates made with the `openssl` command at test time (nothing
secret is committed): a CA, a server certificate for 127.0.0.1/localhost, one
for the wrong host name, and client certificates whose CN is a user name."""

import os
import pwd
import subprocess


def _run(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def _leaf(d, name, subject, ext, ca="ca"):
    _run("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject, cwd=d)
    with open(os.path.join(d, f"{name}.ext"), "w") as f:
        f.write(ext)
    _run("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
         "-CAcreateserial", "-days", "2", "-sha256", "-extfile", f"{name}.ext",
         "-out", f"{name}.crt", cwd=d)


class Certs:
    def __init__(self, d):
        self.dir = d
        _run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=linkpool test CA",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             cwd=d)
        # A second CA nobody trusts, for certificates that must not verify.
        _run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", "otherca.key", "-out", "otherca.crt", "-days", "2", "-subj", "/CN=other CA",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
             cwd=d)
        srv = "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
        _leaf(d, "server", "/CN=localhost", srv + "subjectAltName=DNS:localhost,IP:127.0.0.1\n")
        _leaf(d, "wronghost", "/CN=wrong.example", srv + "subjectAltName=DNS:wrong.example\n")
        cli = "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n"
        _leaf(d, "client_scram_user", "/CN=scram_user", cli)
        _leaf(d, "client_untrusted", "/CN=scram_user", cli, ca="otherca")
        for f in os.listdir(d):
            if f.endswith(".key"):
                os.chmod(os.path.join(d, f), 0o600)

    def path(self, name):
        return os.path.join(self.dir, name)

    def copy_for_postgres(self, name, dest_dir):
        """PostgreSQL wants its key owned by its own user and not group-readable."""
        out = {}
        for ext in ("crt", "key"):
            src = self.path(f"{name}.{ext}")
            dst = os.path.join(dest_dir, f"{name}.{ext}")
            with open(src, "rb") as f, open(dst, "wb") as g:
                g.write(f.read())
            os.chmod(dst, 0o600)
            if os.geteuid() == 0:
                pw = pwd.getpwnam("postgres")
                os.chown(dst, pw.pw_uid, pw.pw_gid)
            out[ext] = dst
        return out
