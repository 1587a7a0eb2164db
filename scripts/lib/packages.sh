# shellcheck shell=bash
# Debian package handling shared by scripts/test.sh, scripts/run-local.sh and
# bench/run.sh. Source it; it defines functions only.

# lp_install_missing PKG...: installs with apt what dpkg does not have yet.
# Needs root only when something is missing. Returns non-zero on failure.
lp_install_missing() {
	local missing=() p
	for p in "$@"; do
		dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
	done
	if [ ${#missing[@]} -eq 0 ]; then
		echo "all packages present"
		return 0
	fi
	if [ "$(id -u)" -ne 0 ]; then
		echo "missing packages (${missing[*]}); run as root" >&2
		return 1
	fi
	echo "installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq || return 1
	apt-get install -y -qq --no-install-recommends "${missing[@]}" || return 1
}

# lp_stop_packaged SERVICE...: we run our own throwaway servers; the packaged
# services (and any packaged PostgreSQL cluster) would only hold ports, memory
# and CPU. Best effort, never fails.
lp_stop_packaged() {
	local svc
	for svc in "$@"; do
		if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
			systemctl stop "$svc" >/dev/null 2>&1 || true
			systemctl disable "$svc" >/dev/null 2>&1 || true
		elif [ -x "/etc/init.d/$svc" ]; then
			"/etc/init.d/$svc" stop >/dev/null 2>&1 || true
			if command -v update-rc.d >/dev/null; then
				update-rc.d "$svc" disable >/dev/null 2>&1 || true
			fi
		fi
	done
	if command -v pg_lsclusters >/dev/null; then
		pg_lsclusters -h 2>/dev/null | while read -r ver name _port status _rest; do
			if [ "$status" = online ]; then
				pg_ctlcluster "$ver" "$name" stop >/dev/null 2>&1 || true
			fi
		done
	fi
	return 0
}
