import GRDB

/// Migrations are append-only: a shipped migration never changes.
enum StoreSchema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE enrollment (
                        user TEXT PRIMARY KEY NOT NULL,
                        state TEXT NOT NULL CHECK (state IN ('active', 'revoked')),
                        sealed_secret BLOB CHECK ((state = 'active') = (sealed_secret IS NOT NULL)),
                        algorithm TEXT NOT NULL,
                        digits INTEGER NOT NULL,
                        period INTEGER NOT NULL,
                        activated_at INTEGER,
                        revoked_at INTEGER,
                        last_step INTEGER,
                        last_success_at INTEGER,
                        failures INTEGER NOT NULL DEFAULT 0
                    ) STRICT;
                    CREATE TABLE pending_enrollment (
                        user TEXT PRIMARY KEY NOT NULL,
                        sealed_secret BLOB NOT NULL,
                        algorithm TEXT NOT NULL,
                        digits INTEGER NOT NULL,
                        period INTEGER NOT NULL,
                        created_at INTEGER NOT NULL,
                        expires_at INTEGER NOT NULL,
                        failures INTEGER NOT NULL DEFAULT 0
                    ) STRICT;
                    CREATE TABLE audit (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        time INTEGER NOT NULL,
                        event TEXT NOT NULL,
                        user TEXT,
                        service TEXT,
                        rhost TEXT,
                        tty TEXT,
                        caller_uid INTEGER NOT NULL,
                        caller_pid INTEGER NOT NULL,
                        result TEXT NOT NULL
                    ) STRICT;
                    CREATE INDEX audit_by_user_time ON audit (user, time);
                    """)
        }
        migrator.registerMigration("v2: throttling, drift, recovery codes, grace") { db in
            try db.execute(
                sql: """
                    ALTER TABLE enrollment ADD COLUMN locked_until INTEGER;
                    ALTER TABLE enrollment ADD COLUMN window_start INTEGER NOT NULL DEFAULT 0;
                    ALTER TABLE enrollment ADD COLUMN window_attempts INTEGER NOT NULL DEFAULT 0;
                    ALTER TABLE enrollment ADD COLUMN drift INTEGER NOT NULL DEFAULT 0;
                    CREATE TABLE recovery_code (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        user TEXT NOT NULL,
                        salt BLOB NOT NULL,
                        hash BLOB NOT NULL,
                        created_at INTEGER NOT NULL,
                        used_at INTEGER
                    ) STRICT;
                    CREATE INDEX recovery_code_by_user ON recovery_code (user);
                    CREATE TABLE grace (
                        user TEXT NOT NULL,
                        service TEXT NOT NULL,
                        origin TEXT NOT NULL,
                        succeeded_at INTEGER NOT NULL,
                        PRIMARY KEY (user, service, origin)
                    ) STRICT;
                    """)
        }
        return migrator
    }
}
