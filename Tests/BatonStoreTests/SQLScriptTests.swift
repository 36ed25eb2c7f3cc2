import BatonCore
import Testing

@testable import BatonStore

@Suite("SQL script splitting and database URLs")
struct SQLScriptTests {
    @Test("Statements split on semicolons outside quotes, dollar quotes and comments")
    func splits() {
        let script = """
            -- a comment; with a semicolon
            CREATE TABLE t (note text DEFAULT 'a;b');
            /* block; comment */
            CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM 1; RETURN NULL;
            END
            $$;
            INSERT INTO t VALUES ($tag$x;y$tag$);
            """
        let statements = SQLScript.statements(script)
        #expect(statements.count == 3)
        #expect(statements[0] == "CREATE TABLE t (note text DEFAULT 'a;b')")
        #expect(statements[1].hasPrefix("CREATE FUNCTION f()"))
        #expect(statements[1].hasSuffix("END\n$$"))
        #expect(statements[2] == "INSERT INTO t VALUES ($tag$x;y$tag$)")
    }

    @Test("Database URLs are parsed; errors never echo the password")
    func urls() throws {
        let configuration = try DatabaseConfiguration(
            url: "postgres://baton:s%40cret@db.internal:6543/runs?sslmode=require")
        #expect(configuration.host == "db.internal")
        #expect(configuration.port == 6543)
        #expect(configuration.username == "baton")
        #expect(configuration.password == "s@cret")
        #expect(configuration.database == "runs")
        #expect(configuration.requireTLS)
        for bad in ["mysql://u:topsecret@h/db", "postgres://u:topsecret@h", "not a url"] {
            let error = #expect(throws: StoreError.self) { try DatabaseConfiguration(url: bad) }
            #expect(error?.code == .invalidConfiguration)
            #expect(error?.description.contains("topsecret") == false)
        }
    }
}
