// A PostgreSQL JDBC (pgjdbc) client that Gatehouse's integration tests run against a real
// gateway, as a single-file program: java -cp /usr/share/java/postgresql.jar JdbcClient.java <port>
// (the token in GATEHOUSE_TOKEN). pgjdbc runs a PreparedStatement on the unnamed statement at
// first and switches to a named server-side statement after prepareThreshold (5) executions,
// then asks for binary results for types such as int4 and date. setFetchSize inside a
// transaction reads through a portal a few rows at a time. Everything it sees is printed as one
// JSON document on standard output for gateway/test/clients-jdbc.test.ts.

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;

public class JdbcClient {
    public static void main(String[] args) throws Exception {
        if (args.length < 1 || System.getenv("GATEHOUSE_TOKEN") == null) {
            System.err.println("usage: GATEHOUSE_TOKEN=<jwt> java -cp postgresql.jar JdbcClient.java <port>");
            System.exit(2);
        }
        Properties props = new Properties();
        props.setProperty("user", "agent");
        props.setProperty("password", System.getenv("GATEHOUSE_TOKEN"));
        props.setProperty("sslmode", "disable");
        props.setProperty("prepareThreshold", "5");
        props.setProperty("connectTimeout", "10");
        props.setProperty("socketTimeout", "60");
        String url = "jdbc:postgresql://127.0.0.1:" + args[0] + "/postgres";
        Map<String, Object> report = new LinkedHashMap<>();

        try (Connection conn = DriverManager.getConnection(url, props)) {
            report.put("driver", conn.getMetaData().getDriverVersion());

            // 1. A masked PreparedStatement executed ten times: unnamed, then named (server-side) and binary.
            List<Object> masked = new ArrayList<>();
            List<Object> serverPrepared = new ArrayList<>();
            List<Object> formats = new ArrayList<>();
            try (PreparedStatement ps = conn.prepareStatement(
                    "SELECT id, mrn, first_name, last_name, ssn, phone, email, address, date_of_birth, length(diagnosis_code) AS ssn_len"
                            + " FROM clinical.patients WHERE id = ?")) {
                for (int i = 1; i <= 10; i++) {
                    ps.setInt(1, i);
                    try (ResultSet rs = ps.executeQuery()) {
                        formats.add(formats(rs));
                        masked.addAll(rows(rs));
                    }
                    serverPrepared.add(ps.unwrap(org.postgresql.PGStatement.class).isUseServerPrepare());
                }
            }
            report.put("masked", masked);
            report.put("server_prepared", serverPrepared);
            report.put("masked_formats", formats);

            // 2. An allowed PreparedStatement of int4 and date columns, ten times.
            List<Object> allowed = new ArrayList<>();
            List<Object> allowedFormats = new ArrayList<>();
            try (PreparedStatement ps = conn.prepareStatement(
                    "SELECT id, patient_id, visit_date FROM clinical.visits WHERE id = ?")) {
                for (int i = 1; i <= 10; i++) {
                    ps.setInt(1, i);
                    try (ResultSet rs = ps.executeQuery()) {
                        allowedFormats.add(formats(rs));
                        allowed.addAll(rows(rs));
                    }
                }
            }
            report.put("allowed", allowed);
            report.put("allowed_formats", allowedFormats);

            // 3. A denied statement, plain and prepared: SQLException.getSQLState().
            report.put("denied_drop", sqlstate(() -> {
                try (Statement st = conn.createStatement()) {
                    st.execute("DROP TABLE clinical.visits");
                }
            }));
            report.put("denied_prepared", sqlstate(() -> {
                try (PreparedStatement ps = conn.prepareStatement("SELECT pg_read_file(?)")) {
                    ps.setString(1, "/etc/passwd");
                    ps.executeQuery().close();
                }
            }));
            try (Statement st = conn.createStatement(); ResultSet rs = st.executeQuery("SELECT 41 + 1")) {
                rs.next();
                report.put("after_denied", rs.getInt(1));
            }

            // 4. setFetchSize inside a transaction: a portal read four rows at a time.
            conn.setAutoCommit(false);
            for (String[] q : new String[][] {
                    {"fetch_masked", "SELECT id, ssn, phone, date_of_birth FROM clinical.patients WHERE id <= ? ORDER BY id"},
                    {"fetch_allowed", "SELECT id, patient_id, visit_date FROM clinical.visits WHERE id <= ? ORDER BY id"}}) {
                try (PreparedStatement ps = conn.prepareStatement(q[1])) {
                    ps.setFetchSize(4);
                    // Seven times: the last runs are a named server-side statement with binary results.
                    List<Object> runs = new ArrayList<>();
                    List<Object> runFormats = new ArrayList<>();
                    for (int run = 0; run < 7; run++) {
                        ps.setInt(1, 10);
                        try (ResultSet rs = ps.executeQuery()) {
                            runFormats.add(formats(rs));
                            runs.add(rows(rs));
                        }
                    }
                    report.put(q[0], runs);
                    report.put(q[0] + "_formats", runFormats);
                }
            }
            conn.commit();

            // 5. A denial inside a transaction aborts it until rollback.
            List<Object> tx = new ArrayList<>();
            String[] after = new String[1];
            tx.add(sqlstate(() -> {
                try (Statement st = conn.createStatement()) {
                    st.executeQuery("SELECT count(*) FROM clinical.visits").close();
                }
            }));
            tx.add(sqlstate(() -> {
                try (Statement st = conn.createStatement()) {
                    st.execute("DROP TABLE clinical.visits");
                }
            }));
            tx.add(sqlstate(() -> {
                try (Statement st = conn.createStatement()) {
                    st.executeQuery("SELECT 1").close();
                }
            }));
            conn.rollback();
            tx.add(sqlstate(() -> {
                try (PreparedStatement ps = conn.prepareStatement("SELECT ssn FROM clinical.patients WHERE id = ?")) {
                    ps.setInt(1, 1);
                    try (ResultSet rs = ps.executeQuery()) {
                        rs.next();
                        after[0] = rs.getString(1);
                    }
                }
            }));
            tx.add(after[0]);
            conn.commit();
            report.put("transaction", tx);
        }
        System.out.println(json(report));
    }

    interface SqlRun {
        void run() throws SQLException;
    }

    /** Null when it succeeded, else the SQLSTATE of the SQLException. */
    static String sqlstate(SqlRun r) {
        try {
            r.run();
            return null;
        } catch (SQLException e) {
            return e.getSQLState() == null ? "no-sqlstate: " + e.getMessage() : e.getSQLState();
        }
    }

    /** The wire format of each result column: 0 text, 1 binary (what pgjdbc asked for). */
    static List<Object> formats(ResultSet rs) throws SQLException {
        org.postgresql.PGResultSetMetaData md = rs.getMetaData().unwrap(org.postgresql.PGResultSetMetaData.class);
        List<Object> out = new ArrayList<>();
        for (int c = 1; c <= rs.getMetaData().getColumnCount(); c++) out.add(md.getFormat(c));
        return out;
    }

    /** Every row as a list; dates as ISO strings, integers as numbers, NULL as null. */
    static List<Object> rows(ResultSet rs) throws SQLException {
        ResultSetMetaData md = rs.getMetaData();
        List<Object> out = new ArrayList<>();
        while (rs.next()) {
            List<Object> row = new ArrayList<>();
            for (int c = 1; c <= md.getColumnCount(); c++) {
                Object v = rs.getObject(c);
                row.add(v instanceof java.sql.Date ? v.toString() : v);
            }
            out.add(row);
        }
        return out;
    }

    static String json(Object v) {
        if (v == null) return "null";
        if (v instanceof Number || v instanceof Boolean) return v.toString();
        if (v instanceof Map) {
            StringBuilder b = new StringBuilder("{");
            for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
                if (b.length() > 1) b.append(',');
                b.append(json(String.valueOf(e.getKey()))).append(':').append(json(e.getValue()));
            }
            return b.append('}').toString();
        }
        if (v instanceof List) {
            StringBuilder b = new StringBuilder("[");
            for (Object o : (List<?>) v) {
                if (b.length() > 1) b.append(',');
                b.append(json(o));
            }
            return b.append(']').toString();
        }
        StringBuilder b = new StringBuilder("\"");
        for (char ch : v.toString().toCharArray()) {
            if (ch == '"' || ch == '\\') b.append('\\').append(ch);
            else if (ch < 0x20) b.append(String.format("\\u%04x", (int) ch));
            else b.append(ch);
        }
        return b.append('"').toString();
    }
}
