// pgJDBC against linkpool in transaction pooling (test_prepared_clients.py):
// many threads, one connection each, with prepareThreshold=1 so that every
// statement runs as a named server statement (S_1, S_2, ...) from its first
// execution. Each thread mixes autocommit statements, explicit transactions,
// batches (pipelined Parse/Bind/Execute), a statement that fails in the
// middle of a transaction, and -- with a statement cache of 3 queries --
// statements the driver closes and prepares again. Every result is checked.
//
//   java -cp postgresql.jar:. JdbcPrepared URL USER PASSWORD THREADS ROUNDS
//
// Prints "OK threads=N transactions=T" and exits 0, or prints the first
// failure and exits 1.
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

public class JdbcPrepared {
	static final AtomicLong transactions = new AtomicLong();
	static final AtomicReference<Throwable> failure = new AtomicReference<>();

	static void check(boolean ok, String what) {
		if (!ok)
			throw new AssertionError(what);
	}

	static int one(PreparedStatement ps) throws SQLException {
		try (ResultSet rs = ps.executeQuery()) {
			check(rs.next(), "a row");
			int v = rs.getInt(1);
			check(!rs.next(), "one row");
			return v;
		}
	}

	static void client(String url, Properties props, int t, int rounds) throws SQLException {
		Properties p = new Properties();
		p.putAll(props);
		if (t % 2 == 1)
			p.setProperty("preparedStatementCacheQueries", "3");
		try (Connection c = DriverManager.getConnection(url, p)) {
			PreparedStatement plus = c.prepareStatement("SELECT ?::int + ?::int");
			PreparedStatement text = c.prepareStatement("SELECT length(?::text || 'x')");
			PreparedStatement ins = c.prepareStatement("INSERT INTO jdbc_items (thread, round) VALUES (?, ?)");
			PreparedStatement cnt = c.prepareStatement("SELECT count(*)::int FROM jdbc_items WHERE thread = ?");
			PreparedStatement div = c.prepareStatement("SELECT 100 / ?::int");
			int inserted = 0;
			for (int j = 0; j < rounds; j++) {
				plus.setInt(1, t);
				plus.setInt(2, j);
				check(one(plus) == t + j, "plus");
				text.setString(1, "r" + j);
				check(one(text) == ("r" + j).length() + 1, "text");
				transactions.addAndGet(2);
				// a text of its own among six: with a cache of 3 the driver
				// closes the oldest and prepares it again later
				try (PreparedStatement rot = c.prepareStatement("SELECT ?::int * " + (j % 6 + 1))) {
					rot.setInt(1, t);
					check(one(rot) == t * (j % 6 + 1), "rotating");
				}
				transactions.incrementAndGet();
				if (j % 4 == 0) {
					c.setAutoCommit(false);
					for (int b = 0; b < 3; b++) {
						ins.setInt(1, t);
						ins.setInt(2, j * 10 + b);
						ins.addBatch();
					}
					int[] res = ins.executeBatch();
					check(res.length == 3, "batch");
					inserted += 3;
					cnt.setInt(1, t);
					check(one(cnt) == inserted, "count in transaction");
					c.commit();
					c.setAutoCommit(true);
					transactions.incrementAndGet();
				}
				if (j % 5 == 2) {
					// an error in the middle of a transaction: rolled back,
					// the statements stay usable
					c.setAutoCommit(false);
					plus.setInt(1, 1);
					plus.setInt(2, 1);
					check(one(plus) == 2, "plus before the error");
					div.setInt(1, 0);
					try {
						one(div);
						check(false, "division by zero must fail");
					} catch (SQLException e) {
						check("22012".equals(e.getSQLState()), "22012, got " + e.getSQLState() + ": " + e);
					}
					c.rollback();
					c.setAutoCommit(true);
					div.setInt(1, 4);
					check(one(div) == 25, "div");
					transactions.addAndGet(2);
				}
			}
			cnt.setInt(1, t);
			check(one(cnt) == inserted, "count at the end");
		}
	}

	public static void main(String[] args) throws Exception {
		String url = args[0];
		Properties props = new Properties();
		props.setProperty("user", args[1]);
		props.setProperty("password", args[2]);
		props.setProperty("prepareThreshold", "1");
		props.setProperty("sslmode", "disable");
		int threads = Integer.parseInt(args[3]);
		int rounds = Integer.parseInt(args[4]);
		List<Thread> ts = new ArrayList<>();
		for (int i = 0; i < threads; i++) {
			final int t = i;
			Thread th = new Thread(() -> {
				try {
					client(url, props, t, rounds);
				} catch (Throwable e) {
					failure.compareAndSet(null, e);
				}
			});
			ts.add(th);
			th.start();
		}
		for (Thread th : ts)
			th.join();
		Throwable f = failure.get();
		if (f != null) {
			System.out.println("FAILED: " + f);
			f.printStackTrace(System.out);
			System.exit(1);
		}
		System.out.println("OK threads=" + threads + " transactions=" + transactions.get());
	}
}
