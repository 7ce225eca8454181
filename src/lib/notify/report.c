/*
 * report.c — the report's numbers, kept up to date as contacts and
 * messages change, so reading them costs the number of rows, not the
 * number of contacts.
 *
 * The report (per home region and local day on which contacts were
 * found: distinct cases, contacts, their latest message's state, and
 * each contact at its highest level) used to be one GROUP BY over every
 * stored contact with two lookups of the outbox per contact: 6.4 s per
 * request over 866 714 contacts, for a page that headquarters reload all
 * day. Now SQLite triggers keep four small tables in step with every
 * write, in the writer's own transaction, so a crash leaves them exactly
 * as consistent as the rows they summarise:
 *
 *   nt_latest(subscriber, msg_id, state, kind)
 *       each subscriber's latest message (the highest id), from nt_outbox
 *   nt_day_sub(region, day, subscriber, rows, q, t)
 *       per group (home region, day found) and subscriber: how many
 *       contact rows, and how many of them at quarantine and at test
 *   nt_day_case(region, day, case_id, rows)
 *       per group and case: how many contact rows
 *   nt_day(region, day, cases, contacts, notified, delivered, failed,
 *          quarantine, test, none, invitations)
 *       the report's counters
 *
 * The invariant: nt_day = the sum over nt_day_sub of each row's
 * contribution (1 contact; its level from q and t; its message counters
 * from nt_latest), and nt_day.cases = the number of nt_day_case rows.
 * Every trigger removes the old contribution and adds the new one, so
 * each single change keeps it. The day a contact was found is stored in
 * nt_contacts.found_day, in the time zone in force when it was found
 * (runs.c), because triggers cannot know the configuration.
 *
 * Every connection runs with recursive_triggers on (notifydb.c), so an
 * INSERT OR REPLACE that deletes a row runs its delete trigger too; a
 * message's id and subscriber may not change (nt_outbox_fixed).
 *
 * ct_report_check recounts the report from nt_contacts and nt_outbox the
 * slow way and compares: `celltrace check` runs it, and the tests run it
 * after every kind of change.
 *
 * Appeals (filed, pending, overdue) are counted from nt_appeals when the
 * report is read: there are few, and "overdue" depends on the clock.
 */
#include "report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "celltrace_notify.h"
#include "config.h"
#include "db.h"
#include "error.h"
#include "export.h"
#include "notifydb.h"
#include "sqlvfs.h"

/* What one nt_day_sub row R adds to its group, with SIGN "+" or "-". */
#define SUB_LEVELS(R, SIGN)                                                                   \
    "contacts = contacts " SIGN " (" R ".rows > 0),"                                           \
    " quarantine = quarantine " SIGN " (" R ".rows > 0 AND " R ".q > 0),"                      \
    " test = test " SIGN " (" R ".rows > 0 AND " R ".q = 0 AND " R ".t > 0),"                  \
    " none = none " SIGN " (" R ".rows > 0 AND " R ".q = 0 AND " R ".t = 0)"
#define LATEST_IS(R, COND)                                                                    \
    "coalesce((SELECT " COND " FROM nt_latest WHERE subscriber = " R ".subscriber), 0)"
#define SUB_MESSAGES(R, SIGN)                                                                 \
    "notified = notified " SIGN " (" R ".rows > 0) * " LATEST_IS(R, NOTIFIED_STATE) ","       \
    " delivered = delivered " SIGN " (" R ".rows > 0) * " LATEST_IS(R, "state = 'delivered'") \
    ", failed = failed " SIGN " (" R ".rows > 0) * " LATEST_IS(R, "state = 'failed'") ","     \
    " invitations = invitations " SIGN " (" R ".rows > 0) * " LATEST_IS(R, INVITATION_KIND)
#define TOP(R) "(CASE WHEN " R ".q > 0 THEN 2 WHEN " R ".t > 0 THEN 1 ELSE 0 END)"
#define NOTIFIED_STATE "state IN ('sent', 'delivered', 'failed')"
#define INVITATION_KIND "kind IN ('test', 'area')"
#define GROUP_OF(R) " WHERE region = " R ".region AND day = " R ".day;"

/* What a change of one subscriber's latest message from OLD to NEW does
 * to every group the subscriber is in (a missing message counts 0). */
#define MESSAGE_DELTA(OLD_STATE, OLD_KIND, NEW_STATE, NEW_KIND)                                 \
    "notified = notified - coalesce(" OLD_STATE " IN ('sent', 'delivered', 'failed'), 0)"     \
    " + coalesce(" NEW_STATE " IN ('sent', 'delivered', 'failed'), 0),"                       \
    " delivered = delivered - coalesce(" OLD_STATE " = 'delivered', 0)"                       \
    " + coalesce(" NEW_STATE " = 'delivered', 0),"                                            \
    " failed = failed - coalesce(" OLD_STATE " = 'failed', 0)"                                \
    " + coalesce(" NEW_STATE " = 'failed', 0),"                                               \
    " invitations = invitations - coalesce(" OLD_KIND " IN ('test', 'area'), 0)"              \
    " + coalesce(" NEW_KIND " IN ('test', 'area'), 0)"
#define GROUPS_OF_SUBSCRIBER(R)                                                               \
    " FROM (SELECT region AS g_region, day AS g_day FROM nt_day_sub WHERE subscriber = " R    \
    ".subscriber AND rows > 0) WHERE region = g_region AND day = g_day;"

#define CONTACT_ADD(R)                                                                        \
    "INSERT INTO nt_day_sub VALUES(" R ".home_region, " R ".found_day, " R ".subscriber, 1,"  \
    " " R ".level = 'quarantine', " R ".level = 'test') ON CONFLICT DO UPDATE SET"            \
    " rows = rows + 1, q = q + excluded.q, t = t + excluded.t;"                               \
    "INSERT INTO nt_day_case VALUES(" R ".home_region, " R ".found_day, " R ".case_id, 1)"    \
    " ON CONFLICT DO UPDATE SET rows = rows + 1;"
#define CONTACT_REMOVE(R)                                                                     \
    "UPDATE nt_day_sub SET rows = rows - 1, q = q - (" R ".level = 'quarantine'),"            \
    " t = t - (" R ".level = 'test') WHERE region = " R ".home_region AND day = " R           \
    ".found_day AND subscriber = " R ".subscriber;"                                           \
    "DELETE FROM nt_day_sub WHERE region = " R ".home_region AND day = " R ".found_day"       \
    " AND subscriber = " R ".subscriber AND rows <= 0;"                                       \
    "UPDATE nt_day_case SET rows = rows - 1 WHERE region = " R ".home_region AND day = " R    \
    ".found_day AND case_id = " R ".case_id;"                                                 \
    "DELETE FROM nt_day_case WHERE region = " R ".home_region AND day = " R ".found_day"      \
    " AND case_id = " R ".case_id AND rows <= 0;"

static const char TABLES[] =
    "CREATE TABLE IF NOT EXISTS nt_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS nt_latest(subscriber INTEGER PRIMARY KEY,"
    " msg_id INTEGER NOT NULL, state TEXT NOT NULL, kind TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS nt_day_sub(region TEXT NOT NULL, day TEXT NOT NULL,"
    " subscriber INTEGER NOT NULL, rows INTEGER NOT NULL, q INTEGER NOT NULL,"
    " t INTEGER NOT NULL, PRIMARY KEY(region, day, subscriber)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS nt_day_sub_subscriber ON nt_day_sub(subscriber);"
    "CREATE TABLE IF NOT EXISTS nt_day_case(region TEXT NOT NULL, day TEXT NOT NULL,"
    " case_id TEXT NOT NULL, rows INTEGER NOT NULL, PRIMARY KEY(region, day, case_id))"
    " WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS nt_day(region TEXT NOT NULL, day TEXT NOT NULL,"
    " cases INTEGER NOT NULL DEFAULT 0, contacts INTEGER NOT NULL DEFAULT 0,"
    " notified INTEGER NOT NULL DEFAULT 0, delivered INTEGER NOT NULL DEFAULT 0,"
    " failed INTEGER NOT NULL DEFAULT 0, quarantine INTEGER NOT NULL DEFAULT 0,"
    " test INTEGER NOT NULL DEFAULT 0, none INTEGER NOT NULL DEFAULT 0,"
    " invitations INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(region, day)) WITHOUT ROWID;"

    ;

/* The triggers, made after a rebuild has filled found_day (so the fill does
 * not run them row by row), or at every open when the tables are built. */
static const char TRIGGERS[] =
    /* nt_day_sub and nt_day_case -> nt_day */
    "CREATE TRIGGER IF NOT EXISTS nt_day_sub_added AFTER INSERT ON nt_day_sub BEGIN"
    " INSERT INTO nt_day(region, day) VALUES(NEW.region, NEW.day) ON CONFLICT DO NOTHING;"
    " UPDATE nt_day SET " SUB_LEVELS("NEW", "+") ", " SUB_MESSAGES("NEW", "+") GROUP_OF("NEW")
    " END;"
    /* most updates add a row of the same level to a subscriber already
     * counted: they change nothing here and are skipped */
    "CREATE TRIGGER IF NOT EXISTS nt_day_sub_changed AFTER UPDATE ON nt_day_sub"
    " WHEN (OLD.rows > 0) IS NOT (NEW.rows > 0) OR " TOP("OLD") " IS NOT " TOP("NEW")
    " OR OLD.region IS NOT NEW.region OR OLD.day IS NOT NEW.day"
    " OR OLD.subscriber IS NOT NEW.subscriber BEGIN"
    " UPDATE nt_day SET " SUB_LEVELS("OLD", "-") ", " SUB_MESSAGES("OLD", "-") GROUP_OF("OLD")
    " INSERT INTO nt_day(region, day) VALUES(NEW.region, NEW.day) ON CONFLICT DO NOTHING;"
    " UPDATE nt_day SET " SUB_LEVELS("NEW", "+") ", " SUB_MESSAGES("NEW", "+") GROUP_OF("NEW")
    " END;"
    "CREATE TRIGGER IF NOT EXISTS nt_day_sub_removed AFTER DELETE ON nt_day_sub BEGIN"
    " UPDATE nt_day SET " SUB_LEVELS("OLD", "-") ", " SUB_MESSAGES("OLD", "-") GROUP_OF("OLD")
    " END;"
    "CREATE TRIGGER IF NOT EXISTS nt_day_case_added AFTER INSERT ON nt_day_case BEGIN"
    " INSERT INTO nt_day(region, day) VALUES(NEW.region, NEW.day) ON CONFLICT DO NOTHING;"
    " UPDATE nt_day SET cases = cases + (NEW.rows > 0)" GROUP_OF("NEW") " END;"
    "CREATE TRIGGER IF NOT EXISTS nt_day_case_changed AFTER UPDATE ON nt_day_case"
    " WHEN (OLD.rows > 0) IS NOT (NEW.rows > 0) OR OLD.region IS NOT NEW.region"
    " OR OLD.day IS NOT NEW.day OR OLD.case_id IS NOT NEW.case_id BEGIN"
    " UPDATE nt_day SET cases = cases - (OLD.rows > 0)" GROUP_OF("OLD")
    " UPDATE nt_day SET cases = cases + (NEW.rows > 0)" GROUP_OF("NEW") " END;"
    "CREATE TRIGGER IF NOT EXISTS nt_day_case_removed AFTER DELETE ON nt_day_case BEGIN"
    " UPDATE nt_day SET cases = cases - (OLD.rows > 0)" GROUP_OF("OLD") " END;"

    /* nt_latest -> nt_day, through the groups the subscriber is in */
    "CREATE TRIGGER IF NOT EXISTS nt_latest_added AFTER INSERT ON nt_latest BEGIN"
    " UPDATE nt_day SET " MESSAGE_DELTA("NULL", "NULL", "NEW.state", "NEW.kind") GROUPS_OF_SUBSCRIBER("NEW") " END;"
    "CREATE TRIGGER IF NOT EXISTS nt_latest_changed AFTER UPDATE ON nt_latest"
    " WHEN OLD.state IS NOT NEW.state OR OLD.kind IS NOT NEW.kind BEGIN"
    " UPDATE nt_day SET " MESSAGE_DELTA("OLD.state", "OLD.kind", "NEW.state", "NEW.kind") GROUPS_OF_SUBSCRIBER("NEW") " END;"
    "CREATE TRIGGER IF NOT EXISTS nt_latest_removed AFTER DELETE ON nt_latest BEGIN"
    " UPDATE nt_day SET " MESSAGE_DELTA("OLD.state", "OLD.kind", "NULL", "NULL") GROUPS_OF_SUBSCRIBER("OLD") " END;"

    /* nt_outbox -> nt_latest */
    "CREATE TRIGGER IF NOT EXISTS nt_outbox_latest_added AFTER INSERT ON nt_outbox BEGIN"
    " INSERT INTO nt_latest VALUES(NEW.subscriber, NEW.id, NEW.state, NEW.kind)"
    " ON CONFLICT(subscriber) DO UPDATE SET msg_id = excluded.msg_id, state = excluded.state,"
    " kind = excluded.kind WHERE excluded.msg_id > nt_latest.msg_id; END;"
    "CREATE TRIGGER IF NOT EXISTS nt_outbox_latest_changed AFTER UPDATE OF state, kind"
    " ON nt_outbox BEGIN"
    " UPDATE nt_latest SET state = NEW.state, kind = NEW.kind"
    " WHERE subscriber = NEW.subscriber AND msg_id = NEW.id; END;"
    "CREATE TRIGGER IF NOT EXISTS nt_outbox_latest_removed AFTER DELETE ON nt_outbox BEGIN"
    " DELETE FROM nt_latest WHERE subscriber = OLD.subscriber AND msg_id = OLD.id;"
    " INSERT INTO nt_latest SELECT subscriber, id, state, kind FROM nt_outbox"
    " WHERE subscriber = OLD.subscriber ORDER BY id DESC LIMIT 1"
    " ON CONFLICT(subscriber) DO NOTHING; END;"

    /* nt_contacts -> nt_day_sub and nt_day_case */
    "CREATE TRIGGER IF NOT EXISTS nt_contacts_day_added AFTER INSERT ON nt_contacts BEGIN "
    CONTACT_ADD("NEW") " END;"
    "CREATE TRIGGER IF NOT EXISTS nt_contacts_day_changed AFTER UPDATE OF home_region,"
    " found_day, level, case_id, subscriber ON nt_contacts WHEN OLD.home_region IS NOT"
    " NEW.home_region OR OLD.found_day IS NOT NEW.found_day OR OLD.level IS NOT NEW.level"
    " OR OLD.case_id IS NOT NEW.case_id OR OLD.subscriber IS NOT NEW.subscriber BEGIN "
    CONTACT_REMOVE("OLD") CONTACT_ADD("NEW") " END;"
    "CREATE TRIGGER IF NOT EXISTS nt_contacts_day_removed AFTER DELETE ON nt_contacts BEGIN "
    CONTACT_REMOVE("OLD") " END;"
    /* a message never changes hands: the counters follow messages by id
     * and subscriber */
    "CREATE TRIGGER IF NOT EXISTS nt_outbox_fixed BEFORE UPDATE OF id, subscriber ON nt_outbox"
    " WHEN OLD.id IS NOT NEW.id OR OLD.subscriber IS NOT NEW.subscriber"
    " BEGIN SELECT RAISE(ABORT, 'a message keeps its id and subscriber'); END;";

/* Fills the tables from what is stored: for a data directory from before
 * them (its contacts get their found_day in today's time zone), and after
 * `purge --all` emptied nt_meta with everything else. */
static const char FILL_DAYS[] =
    "UPDATE nt_contacts SET found_day = ct_localdate(found_at) WHERE found_day = '';";
static const char REBUILD[] =
    "DELETE FROM nt_latest; DELETE FROM nt_day_sub; DELETE FROM nt_day_case; DELETE FROM nt_day;"
    "INSERT INTO nt_latest SELECT o.subscriber, o.id, o.state, o.kind FROM nt_outbox o"
    " WHERE o.id = (SELECT max(id) FROM nt_outbox m WHERE m.subscriber = o.subscriber);"
    "INSERT INTO nt_day_sub SELECT home_region, found_day, subscriber, count(*),"
    " sum(level = 'quarantine'), sum(level = 'test') FROM nt_contacts GROUP BY 1, 2, 3;"
    "INSERT INTO nt_day_case SELECT home_region, found_day, case_id, count(*) FROM nt_contacts"
    " GROUP BY 1, 2, 3;"
    "INSERT OR REPLACE INTO nt_meta VALUES('report', '1');";

static ct_code is_built(sqlite3 *sql, int *built, ct_err *err)
{
    sqlite3_stmt *st = NULL;
    ct_code rc = ct__ndb_prepare(sql, "SELECT 1 FROM nt_meta WHERE key = 'report'", &st, err);
    *built = 0;
    if (!rc && ct__sql_step(st, &rc, err) == SQLITE_ROW)
        *built = 1;
    sqlite3_finalize(st);
    return rc;
}

ct_code ct__report_tables(sqlite3 *sql, const char *dir, ct_err *err)
{
    int built;
    ct_code rc = ct__ndb_exec(sql, TABLES, err);
    if (!rc)
        rc = is_built(sql, &built, err);
    if (!rc && built)
        rc = ct__ndb_exec(sql, TRIGGERS, err);
    if (rc || built)
        return rc;
    ct_conf conf;
    rc = ct__conf_load(dir, &conf, err);
    if (!rc)
        rc = ct__export_register_date(sql, conf.timezone, err);
    if (!rc)
        rc = ct__ndb_exec(sql, "BEGIN IMMEDIATE", err);
    if (rc)
        return rc;
    rc = is_built(sql, &built, err); /* another process may have built them meanwhile */
    if (!rc && !built) /* days first, then the triggers, then the counters through them */
        rc = ct__ndb_exec(sql, FILL_DAYS, err);
    if (!rc)
        rc = ct__ndb_exec(sql, TRIGGERS, err);
    if (!rc && !built)
        rc = ct__ndb_exec(sql, REBUILD, err);
    rc = ct__ndb_end(sql, rc, err);
    /* conf goes now: so does the function that points into it */
    sqlite3_create_function(sql, "ct_localdate", 1, SQLITE_UTF8, NULL, NULL, NULL, NULL);
    return rc;
}

/* ---- reading ------------------------------------------------------------------ */

/* The appeals of each region and local day filed; overdue as an appeal
 * is flagged (appeals.c): decided after its deadline, or pending past it. */
#define APPEALS_BY_DAY                                                                        \
    "SELECT region, ct_localdate(filed_at) AS day, count(*) AS filed,"                       \
    " sum(state = 'pending') AS pending, sum(CASE WHEN decided_at > 0 THEN decided_at >"      \
    " deadline ELSE ?2 > deadline END) AS overdue FROM nt_appeals GROUP BY 1, 2"

static const char REPORT_SQL[] =
    "WITH ap AS (" APPEALS_BY_DAY "),"
    " keys AS (SELECT region, day FROM nt_day WHERE contacts > 0 UNION"
    "  SELECT region, day FROM ap)"
    " SELECT k.region, k.day, coalesce(d.cases, 0), coalesce(d.contacts, 0),"
    " coalesce(d.notified, 0), coalesce(d.delivered, 0), coalesce(d.failed, 0),"
    " coalesce(d.quarantine, 0), coalesce(d.test, 0), coalesce(d.none, 0),"
    " coalesce(d.invitations, 0), coalesce(a.filed, 0), coalesce(a.pending, 0),"
    " coalesce(a.overdue, 0)"
    " FROM keys k LEFT JOIN nt_day d ON d.region = k.region AND d.day = k.day"
    " LEFT JOIN ap a ON a.region = k.region AND a.day = k.day"
    " WHERE ?1 IS NULL OR k.day = ?1 ORDER BY k.day, k.region";

/* The same numbers the slow way, from the rows themselves: what the
 * report was before the tables above, kept to check them. */
static const char RECOUNT_SQL[] =
    "SELECT home_region, day, count(DISTINCT case_id), count(DISTINCT subscriber),"
    " count(DISTINCT CASE WHEN st IN ('sent','delivered','failed') THEN subscriber END),"
    " count(DISTINCT CASE WHEN st='delivered' THEN subscriber END),"
    " count(DISTINCT CASE WHEN st='failed' THEN subscriber END),"
    " count(DISTINCT CASE WHEN top=2 THEN subscriber END),"
    " count(DISTINCT CASE WHEN top=1 THEN subscriber END),"
    " count(DISTINCT CASE WHEN top=0 THEN subscriber END),"
    " count(DISTINCT CASE WHEN kd IN ('test', 'area') THEN subscriber END)"
    " FROM (SELECT *, max(lv) OVER (PARTITION BY home_region, day, subscriber) AS top"
    "  FROM (SELECT c.home_region, c.found_day AS day, c.case_id, c.subscriber,"
    "   CASE c.level WHEN 'quarantine' THEN 2 WHEN 'test' THEN 1 ELSE 0 END AS lv,"
    "   (SELECT state FROM nt_outbox o WHERE o.subscriber=c.subscriber ORDER BY id DESC LIMIT 1)"
    "   AS st,"
    "   (SELECT kind FROM nt_outbox o WHERE o.subscriber=c.subscriber ORDER BY id DESC LIMIT 1)"
    "   AS kd FROM nt_contacts c))"
    " GROUP BY home_region, day ORDER BY day, home_region";

/* every group with any counter not zero: one emptied of its contacts must
 * be all zeros, and shows up here when it is not */
static const char KEPT_SQL[] =
    "SELECT region, day, cases, contacts, notified, delivered, failed, quarantine, test, none,"
    " invitations FROM nt_day WHERE cases != 0 OR contacts != 0 OR notified != 0"
    " OR delivered != 0 OR failed != 0 OR quarantine != 0 OR test != 0 OR none != 0"
    " OR invitations != 0 ORDER BY day, region";

#define COUNTERS 9

static void row_of(sqlite3_stmt *st, ct_report_row *r, int appeals)
{
    uint64_t *v[COUNTERS + 3] = {&r->cases,      &r->contacts, &r->notified,
                                 &r->delivered,  &r->failed,   &r->quarantine,
                                 &r->test,       &r->none,     &r->invitations,
                                 &r->appeals,    &r->appeals_pending, &r->appeals_overdue};
    memset(r, 0, sizeof *r);
    r->region = (const char *)sqlite3_column_text(st, 0);
    r->day = (const char *)sqlite3_column_text(st, 1);
    for (int i = 0; i < COUNTERS + (appeals ? 3 : 0); i++)
        *v[i] = (uint64_t)sqlite3_column_int64(st, 2 + i);
}

/* ct_localdate keeps a pointer to conf's time zone: conf outlives *sql. */
static ct_code open_for_report(ct_db *db, ct_conf *conf, sqlite3 **sql, ct_err *err)
{
    ct_code rc = ct__conf_load(db->dir, conf, err);
    if (!rc)
        rc = ct__ndb_open(db->dir, sql, err);
    if (!rc)
        rc = ct__export_register_date(*sql, conf->timezone, err);
    return rc;
}

static int counters_differ(const ct_report_row *a, const ct_report_row *b)
{
    return a->cases != b->cases || a->contacts != b->contacts || a->notified != b->notified ||
           a->delivered != b->delivered || a->failed != b->failed ||
           a->quarantine != b->quarantine || a->test != b->test || a->none != b->none ||
           a->invitations != b->invitations;
}

ct_code ct_report(ct_db *db, const char *day, ct_report_fn fn, void *ud, ct_err *err)
{
    sqlite3 *sql = NULL;
    sqlite3_stmt *st = NULL;
    ct_conf conf;
    uint64_t n = 0;
    ct_code rc = open_for_report(db, &conf, &sql, err);
    if (!rc)
        rc = ct__ndb_prepare(sql, REPORT_SQL, &st, err);
    if (rc)
        goto out;
    if (day)
        sqlite3_bind_text(st, 1, day, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)time(NULL));
    while (!rc && ct__sql_step(st, &rc, err) == SQLITE_ROW) {
        ct_report_row r;
        row_of(st, &r, 1);
        n++;
        if (fn(ud, &r))
            break;
    }
out:
    sqlite3_finalize(st);
    sqlite3_close(sql);
    if (!rc)
        rc = ct__audit(db, "report", day ? day : "all", n, err);
    return rc;
}

ct_code ct_report_check(ct_db *db, uint64_t *groups, uint64_t *differing, ct_err *err)
{
    sqlite3 *sql = NULL;
    sqlite3_stmt *kept = NULL, *recount = NULL;
    ct_conf conf;
    *groups = *differing = 0;
    ct_code rc = open_for_report(db, &conf, &sql, err);
    /* one read transaction, so both sides see the same rows */
    if (!rc)
        rc = ct__ndb_exec(sql, "BEGIN", err);
    if (!rc)
        rc = ct__ndb_prepare(sql, KEPT_SQL, &kept, err);
    if (!rc)
        rc = ct__ndb_prepare(sql, RECOUNT_SQL, &recount, err);
    int have_kept = 0, have_recount = 0;
    if (!rc) {
        have_kept = ct__sql_step(kept, &rc, err) == SQLITE_ROW;
        if (!rc)
            have_recount = ct__sql_step(recount, &rc, err) == SQLITE_ROW;
    }
    while (!rc && (have_kept || have_recount)) {
        ct_report_row a, b;
        int order = 0;
        if (have_kept)
            row_of(kept, &a, 0);
        if (have_recount)
            row_of(recount, &b, 0);
        if (!have_kept)
            order = 1;
        else if (!have_recount)
            order = -1;
        else if ((order = strcmp(a.day, b.day)) == 0)
            order = strcmp(a.region, b.region);
        ++*groups;
        if (order || counters_differ(&a, &b))
            ++*differing;
        if (order <= 0)
            have_kept = ct__sql_step(kept, &rc, err) == SQLITE_ROW;
        if (!rc && order >= 0)
            have_recount = ct__sql_step(recount, &rc, err) == SQLITE_ROW;
    }
    sqlite3_finalize(kept);
    sqlite3_finalize(recount);
    if (sql)
        sqlite3_exec(sql, "COMMIT", NULL, NULL, NULL);
    sqlite3_close(sql);
    return rc;
}

/* ---- which cases reach a region ------------------------------------------------- */

ct_code ct__report_cases_living_in(sqlite3 *sql, const char *region, char **ids, ct_err *err)
{
    sqlite3_stmt *st = NULL;
    *ids = NULL;
    ct_code rc = ct__ndb_prepare(
        sql, "SELECT json_group_array(DISTINCT case_id) FROM nt_day_case WHERE region = ?1",
        &st, err);
    if (!rc)
        sqlite3_bind_text(st, 1, region, -1, SQLITE_TRANSIENT);
    if (!rc && ct__sql_step(st, &rc, err) == SQLITE_ROW && sqlite3_column_text(st, 0))
        *ids = strdup((const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    if (!rc && !*ids)
        rc = ct__fail(err, CT_ENOMEM, "out of memory");
    return rc;
}

ct_code ct__report_case_lives_in(sqlite3 *sql, const char *region, const char *case_id,
                                 int *yes, ct_err *err)
{
    sqlite3_stmt *st = NULL;
    *yes = 0;
    ct_code rc = ct__ndb_prepare(
        sql, "SELECT 1 FROM nt_day_case WHERE region = ?1 AND case_id = ?2 LIMIT 1", &st, err);
    if (!rc) {
        sqlite3_bind_text(st, 1, region, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, case_id, -1, SQLITE_TRANSIENT);
    }
    if (!rc && ct__sql_step(st, &rc, err) == SQLITE_ROW)
        *yes = 1;
    sqlite3_finalize(st);
    return rc;
}
