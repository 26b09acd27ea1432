-- Message and reaction ids are 64-bit integers. In SQLite they always
-- were: an INTEGER column, and the rowid behind INTEGER PRIMARY KEY, holds
-- any 64-bit integer, so nothing stored changes. What changes is how confab
-- reads them: src/db/schema.rs maps these columns to BigInt (the diesel CLI
-- prints every INTEGER as Integer, so diesel.toml applies
-- src/db/schema.patch). This version exists so that both backends carry the
-- same migrations; PostgreSQL's twin widens its columns.
SELECT 1;
