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
        migrator.registerMigration("v3: shared throttle, keyed recovery digests, audit counts") { db in
            // Nothing was released with v2, so recovery codes stored as plain salted hashes are
            // dropped rather than converted: users regenerate them.
            try db.execute(
                sql: """
                    CREATE TABLE throttle (
                        user TEXT PRIMARY KEY NOT NULL,
                        window_start INTEGER NOT NULL DEFAULT 0,
                        window_attempts INTEGER NOT NULL DEFAULT 0,
                        failures INTEGER NOT NULL DEFAULT 0,
                        locked_until INTEGER
                    ) STRICT;
                    INSERT INTO throttle (user, window_start, window_attempts, failures, locked_until)
                        SELECT user, window_start, window_attempts, failures, locked_until FROM enrollment;
                    ALTER TABLE enrollment DROP COLUMN window_start;
                    ALTER TABLE enrollment DROP COLUMN window_attempts;
                    ALTER TABLE enrollment DROP COLUMN failures;
                    ALTER TABLE enrollment DROP COLUMN locked_until;
                    DROP TABLE recovery_code;
                    CREATE TABLE recovery_code (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        user TEXT NOT NULL,
                        digest BLOB NOT NULL,
                        created_at INTEGER NOT NULL,
                        used_at INTEGER,
                        UNIQUE (user, digest)
                    ) STRICT;
                    ALTER TABLE audit ADD COLUMN count INTEGER NOT NULL DEFAULT 1;
                    CREATE INDEX audit_by_time ON audit (time);
                    """)
        }
        migrator.registerMigration("v4: sealed store keys") { db in
            // Keys the store uses besides the key file's, sealed by it, so a key rotation
            // re-seals them like the secrets; the recovery-code digest key is the first.
            try db.execute(
                sql: """
                    CREATE TABLE store_key (
                        name TEXT PRIMARY KEY NOT NULL,
                        sealed BLOB NOT NULL
                    ) STRICT;
                    """)
        }
        return migrator
    }
}
