/*
 * test_notify.c — the pieces of notifications that need no gateway:
 * message texts and encodings (three kinds, two languages), configuration,
 * backoff, quiet hours, extension and invitation rules, night hours, the
 * risk columns an older data directory gains, and every delivery-report
 * transition.
 * (The gateway itself: tests/golden/notify_e2e.sh and notify_faults.sh.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <sys/stat.h>

#include "celltrace_notify.h"
#include "config.h"
#include "db.h"
#include "dispatch.h"
#include "keys.h"
#include "notifydb.h"
#include "outbox.h"
#include "runs.h"
#include "subscribers.h"
#include "templates.h"
#include "testutil.h"
#include "tzone.h"

static void test_texts_fit(void **state)
{
    (void)state;
    char out[CT_SMS_TEXT_MAX + 1];
    int ucs2;
    /* Regression: the first Russian text needed 3 UCS-2 parts. Every kind:
     * Russian in two UCS-2 parts, English in one GSM-7 part. */
    for (int k = CT_MSG_FIRST; k <= CT_MSG_LIFTED; k++) {
        assert_int_equal(ct__template_render("ru", (ct_msg_kind)k, "24.03.2020", "07.04.2020",
                                             "8-800-2000-112", out, sizeof out, NULL), CT_OK);
        assert_int_equal(ct__sms_parts(out, &ucs2), 2);
        assert_int_equal(ucs2, 1);
        assert_non_null(strstr(out, "24.03.2020"));
        assert_non_null(strstr(out, "8-800-2000-112"));
        assert_true((strstr(out, "07.04.2020") != NULL) == (k < CT_MSG_TEST));
        assert_int_equal(ct__template_render("en", (ct_msg_kind)k, "2020-03-24", "2020-04-07",
                                             "8-800-2000-112", out, sizeof out, NULL), CT_OK);
        assert_int_equal(ct__sms_parts(out, &ucs2), 1);
        assert_int_equal(ucs2, 0);
        assert_non_null(strstr(out, "8-800-2000-112"));
        assert_true((strstr(out, "2020-04-07") != NULL) == (k < CT_MSG_TEST));
    }
    /* The invitation: no end date needed, its own words. */
    assert_int_equal(ct__template_render("en", CT_MSG_TEST, "2020-03-24", NULL, "8-800-2000-112",
                                         out, sizeof out, NULL), CT_OK);
    assert_string_equal(out, "Ministry of Health: you may have been near a COVID-19 case on "
                             "2020-03-24. Get tested: call the hotline 8-800-2000-112. Stay at "
                             "home until the result.");
    assert_int_equal(ct__template_render("ru", CT_MSG_TEST, "24.03.2020", NULL, "8-800-2000-112",
                                         out, sizeof out, NULL), CT_OK);
    assert_string_equal(out, "Минздрав: вы могли быть рядом с заболевшим COVID-19 24.03.2020. "
                             "Сдайте тест: горячая линия 8-800-2000-112. До результата будьте "
                             "дома");
    assert_int_equal(ct__template_render("en", CT_MSG_EXTENSION, "2020-03-24", "2020-04-07",
                                         "8-800-2000-112", out, sizeof out, NULL), CT_OK);
    assert_non_null(strstr(out, "new contact"));
    assert_string_equal(ct__msg_kind_name(CT_MSG_FIRST), "new");
    assert_string_equal(ct__msg_kind_name(CT_MSG_EXTENSION), "extension");
    assert_string_equal(ct__msg_kind_name(CT_MSG_TEST), "test");
    assert_string_equal(ct__msg_kind_name(CT_MSG_AREA), "area");
    /* The area invitation: the day, no place, no case. */
    assert_int_equal(ct__template_render("en", CT_MSG_AREA, "2020-03-24", NULL, "8-800-2000-112",
                                         out, sizeof out, NULL), CT_OK);
    assert_string_equal(out, "Ministry of Health: on 2020-03-24 you were at a place where COVID-19 "
                             "spread. Get tested: call 8-800-2000-112. Stay at home until the "
                             "result.");
    assert_int_equal(ct__template_render("de", CT_MSG_FIRST, "a", "b", "c", out, sizeof out,
                                         NULL), CT_EINVAL);
    assert_int_equal(ct__template_render("en", (ct_msg_kind)0, "a", "b", "c", out, sizeof out,
                                         NULL), CT_EINVAL);
    assert_int_equal(ct__template_render("en", (ct_msg_kind)6, "a", "b", "c", out, sizeof out,
                                         NULL), CT_EINVAL);
    /* An upheld appeal: the order is lifted; the day, no end date. */
    assert_string_equal(ct__msg_kind_name(CT_MSG_LIFTED), "lifted");
    assert_int_equal(ct__template_render("en", CT_MSG_LIFTED, "2020-03-24", NULL, "8-800-2000-112",
                                         out, sizeof out, NULL), CT_OK);
    assert_string_equal(out, "Ministry of Health: your appeal is upheld. The order to stay at home "
                             "after the contact on 2020-03-24 is lifted. Hotline 8-800-2000-112");
    char small[20];
    assert_int_equal(ct__template_render("en", CT_MSG_FIRST, "a", "b", "c", small, sizeof small,
                                         NULL), CT_ELIMIT);
}

static void test_gsm7(void **state)
{
    (void)state;
    assert_true(ct__gsm7_only("Hello @ 10:00 £5 ÄÖ"));
    assert_true(ct__gsm7_only("a {b} €"));
    assert_false(ct__gsm7_only("Привет"));
    assert_false(ct__gsm7_only("\xff"));
    int ucs2;
    char buf[200];
    memset(buf, 'a', 160);
    buf[160] = '\0';
    assert_int_equal(ct__sms_parts(buf, &ucs2), 1);
    buf[159] = '{'; /* extension character: two septets */
    assert_int_equal(ct__sms_parts(buf, &ucs2), 2);
    assert_int_equal(ct__sms_parts("Привет", &ucs2), 1);
    assert_int_equal(ucs2, 1);
}

/* GSM 03.38 as the standard's table lists it, in code points (written
 * here again, not taken from templates.c): the default alphabet, then the
 * extension table, whose characters cost two septets. */
static const uint32_t GSM_DEFAULT_CPS[] = {
    0x40, 0xA3, 0x24, 0xA5, 0xE8, 0xE9, 0xF9, 0xEC, 0xF2, 0xC7, 0x0A, 0xD8, 0xF8, 0x0D, 0xC5, 0xE5,
    0x394, 0x5F, 0x3A6, 0x393, 0x39B, 0x3A9, 0x3A0, 0x3A8, 0x3A3, 0x398, 0x39E, 0xC6, 0xE6, 0xDF,
    0xC9, 0x20, 0x21, 0x22, 0x23, 0xA4, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2A, 0x2B, 0x2C, 0x2D, 0x2E,
    0x2F, 0x3A, 0x3B, 0x3C, 0x3D, 0x3E, 0x3F, 0xA1, 0xC4, 0xD6, 0xD1, 0xDC, 0xA7, 0xBF, 0xE4, 0xF6,
    0xF1, 0xFC, 0xE0};
static const uint32_t GSM_EXTENSION_CPS[] = {0x0C, 0x5E, 0x7B, 0x7D, 0x5C, 0x5B, 0x7E, 0x5D, 0x7C,
                                             0x20AC};

static unsigned expected_septets(uint32_t cp)
{
    if ((cp >= '0' && cp <= '9') || (cp >= 'A' && cp <= 'Z') || (cp >= 'a' && cp <= 'z'))
        return 1;
    for (size_t i = 0; i < sizeof GSM_DEFAULT_CPS / sizeof *GSM_DEFAULT_CPS; i++)
        if (GSM_DEFAULT_CPS[i] == cp)
            return 1;
    for (size_t i = 0; i < sizeof GSM_EXTENSION_CPS / sizeof *GSM_EXTENSION_CPS; i++)
        if (GSM_EXTENSION_CPS[i] == cp)
            return 2;
    return 0;
}

static size_t utf8_encode(uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Every code point: GSM-7 exactly when the standard has it, at its cost
 * in septets (81 copies fit one part at one septet each, not at two), and
 * UCS-2 otherwise, where a code point beyond the BMP takes two units (35
 * fit one part of 70, 36 do not). */
static void test_gsm7_every_code_point(void **state)
{
    (void)state;
    char text[81 * 4 + 1];
    unsigned members = 0;
    for (uint32_t cp = 1; cp <= 0x10FFFF; cp++) {
        if (cp >= 0xD800 && cp <= 0xDFFF)
            continue; /* surrogates are not code points of UTF-8 */
        char one[4];
        size_t len = utf8_encode(cp, one);
        unsigned septets = expected_septets(cp);
        memcpy(text, one, len);
        text[len] = '\0';
        int ucs2;
        assert_int_equal(ct__sms_parts(text, &ucs2), 1);
        if (ucs2 != !septets)
            fail_msg("U+%04X: ucs2 %d, the standard says %s", cp, ucs2,
                     septets ? "GSM-7" : "not GSM-7");
        if (septets) {
            members++;
            for (size_t k = 1; k < 81; k++)
                memcpy(text + k * len, one, len);
            text[81 * len] = '\0';
            if (ct__sms_parts(text, &ucs2) != (int)septets)
                fail_msg("U+%04X: 81 of them take %d parts, the standard says %u septets each", cp,
                         ct__sms_parts(text, &ucs2), septets);
        } else if (cp > 0xFFFF) {
            for (size_t k = 1; k < 36; k++)
                memcpy(text + k * len, one, len);
            text[36 * len] = '\0';
            assert_int_equal(ct__sms_parts(text, &ucs2), 2);
            text[35 * len] = '\0';
            assert_int_equal(ct__sms_parts(text, &ucs2), 1);
        }
    }
    assert_int_equal(members, 127 + 10); /* 128 places, one the escape; 10 extensions */
}

static void test_rules(void **state)
{
    (void)state;
    assert_int_equal(ct__backoff(1, 30, 3600), 30);
    assert_int_equal(ct__backoff(3, 30, 3600), 120);
    assert_int_equal(ct__backoff(40, 30, 3600), 3600);
    assert_false(ct__in_quiet(12 * 60, -1, -1));
    assert_true(ct__in_quiet(23 * 60, 22 * 60, 8 * 60));
    assert_true(ct__in_quiet(7 * 60 + 59, 22 * 60, 8 * 60));
    assert_false(ct__in_quiet(8 * 60, 22 * 60, 8 * 60));
    assert_true(ct__in_quiet(13 * 60, 12 * 60, 14 * 60));
    const int64_t day = 86400;
    assert_int_equal(ct__notice_kind(0, 100, 100 + 14 * day), CT_MSG_FIRST);
    assert_int_equal(ct__notice_kind(100 + 14 * day, 200, 200 + 14 * day), 0);
    assert_int_equal(ct__notice_kind(100 + 14 * day, 100 + day, 100 + 15 * day), CT_MSG_EXTENSION);
    assert_int_equal(ct__notice_kind(100 + 14 * day, 100 + 20 * day, 100 + 34 * day),
                     CT_MSG_FIRST);
    /* Invitations: due unless a message (of any kind) ends at or after the
     * latest test-level contact. */
    const int64_t last = 1000 * day;
    assert_true(ct__invite_due(0, last));                   /* never notified */
    assert_false(ct__invite_due(last + 14 * day, last));    /* an earlier invitation or order */
    assert_false(ct__invite_due(last, last));               /* ends exactly then: covers it */
    assert_true(ct__invite_due(last - 1, last));            /* ended just before */
    assert_true(ct__invite_due(last - 30 * day, last));     /* a new contact after the period */
}

static void test_night(void **state)
{
    (void)state;
    /* 2020-03-24T00:00Z = 03:00 Moscow: three hours of night remain. */
    int64_t t = 1585008000;
    assert_int_equal(ct__tz_offset("Europe/Moscow", t), 3 * 3600);
    assert_int_equal(ct__tz_night_seconds("Europe/Moscow", t, t + 86400), 6 * 3600);
    assert_int_equal(ct__tz_night_seconds("Europe/Moscow", t, t + 4 * 3600), 3 * 3600);
    assert_int_equal(ct__tz_night_seconds("UTC", t, t + 86400), 6 * 3600);
    assert_int_equal(ct__tz_night_seconds("UTC", t - 3600, t + 3600), 3600);
    char d[11];
    ct__tz_date("Europe/Moscow", t - 1, 1, d);
    assert_string_equal(d, "24.03.2020");
    ct__tz_date("UTC", t - 1, 0, d);
    assert_string_equal(d, "2020-03-23");
    assert_int_equal(ct__tz_minute("Europe/Moscow", t), 180);
}

/* Offsets are remembered per UTC day (tzone.c): across a change of
 * offset, and when the zone changes between calls, every answer must
 * still be the zone's own. Berlin went from +01:00 to +02:00 at
 * 2020-03-29T01:00:00Z. */
static void test_offset_memo(void **state)
{
    (void)state;
    const int64_t change = 1585443600, day_before = change - 86400;
    assert_int_equal(ct__tz_offset("Europe/Berlin", day_before), 3600); /* a day without change */
    assert_int_equal(ct__tz_offset("Europe/Berlin", day_before + 3600), 3600);
    assert_int_equal(ct__tz_offset("UTC", day_before + 3600), 0);        /* another zone, same day */
    assert_int_equal(ct__tz_offset("Europe/Moscow", day_before + 3600), 3 * 3600);
    assert_int_equal(ct__tz_offset("Europe/Berlin", change - 1), 3600);  /* the day of the change */
    assert_int_equal(ct__tz_offset("Europe/Berlin", change), 7200);
    assert_int_equal(ct__tz_offset("Europe/Berlin", change + 3600), 7200);
    assert_int_equal(ct__tz_offset("Europe/Berlin", change - 3600), 3600);
    assert_int_equal(ct__tz_offset("Europe/Berlin", change + 86400), 7200); /* the day after */
    assert_int_equal(ct__tz_offset("Europe/Berlin", change - 2), 3600);
    /* from local midnight of the day of the change, a day and two hours at
     * the offset of the interval's start (+01:00): 6 + 2 hours of night */
    assert_int_equal(ct__tz_night_seconds("Europe/Berlin", change - 2 * 3600, change + 86400), 8 * 3600);
    /* dates and minutes follow the offset: 01:59:59 local, then 03:00 */
    char d[11];
    assert_int_equal(ct__tz_minute("Europe/Berlin", change - 1), 119);
    assert_int_equal(ct__tz_minute("Europe/Berlin", change), 180);
    ct__tz_date("Europe/Berlin", change - 7201, 0, d); /* 23:59:59 local, the day before */
    assert_string_equal(d, "2020-03-28");
    ct__tz_date("Europe/Berlin", change - 7200, 1, d); /* local midnight */
    assert_string_equal(d, "29.03.2020");
    ct__tz_date("Asia/Kolkata", 0, 0, d); /* +05:30 at the epoch */
    assert_string_equal(d, "1970-01-01");
    assert_int_equal(ct__tz_minute("Asia/Kolkata", 0), 330);
    ct__tz_date("America/Los_Angeles", 0, 0, d); /* before the epoch locally */
    assert_string_equal(d, "1969-12-31");
    assert_int_equal(ct__tz_minute("America/Los_Angeles", 0), 16 * 60);
}

/* A home region on the day Berlin's offset changed (2020-03-29T01:00Z,
 * +01:00 to +02:00), max presence 3000 s. RU-ZZZ at 00:10Z: local
 * 01:10-02:00, 3000 s of night. RU-AAA at 03:20Z: local 05:20-06:10 at
 * +02:00, 2400 s; an offset kept from the day's first event (+01:00)
 * would give 04:20-05:10, 3000 s, a tie that RU-AAA wins by name. */
static void test_home_on_offset_change(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("home-dst"), data[1100], path[1200];
    snprintf(data, sizeof data, "%s/data", dir);
    ct_err err;
    ct_db *db;
    ct_import_summary s;
    ct_ingest *in;
    assert_int_equal(ct_init(data, &err), CT_OK);
    assert_int_equal(ct_open(data, 1, &db, &err), CT_OK);
    tu_write(dir, "cells.csv", "cell_id,lat,lon,radius_m,region\n"
                               "Z,55.70,37.50,300,RU-ZZZ\nA,55.80,37.60,300,RU-AAA\n");
    snprintf(path, sizeof path, "%s/cells.csv", dir);
    assert_int_equal(ct_cells_import(db, "250-01", path, NULL, &s, &err), CT_OK);
    tu_write(dir, "events.csv", "msisdn,ts,cell_id\n79990000001,2020-03-29T00:10:00Z,Z\n"
                                "79990000001,2020-03-29T03:20:00Z,A\n");
    snprintf(path, sizeof path, "%s/events.csv", dir);
    assert_int_equal(ct_ingest_begin(db, "250-01", NULL, &in, &err), CT_OK);
    assert_int_equal(ct_ingest_file(in, path, &err), CT_OK);
    assert_int_equal(ct_ingest_commit(in, &s, &err), CT_OK);
    ct_close(db);
    assert_int_equal(ct_open(data, 0, &db, &err), CT_OK);
    uint32_t sub;
    assert_int_equal(ct__subdict_find(db->subs, "79990000001", &sub, &err), CT_OK);
    char home[CT_REGION_MAX + 1];
    assert_int_equal(ct__home_region(db, sub, "Europe/Berlin", 3000, 0, 0, NULL, home, &err), CT_OK);
    assert_string_equal(home, "RU-ZZZ");
    /* a zone without the change: 01:10-02:00 and 04:20-05:10 at +01:00 */
    assert_int_equal(ct__home_region(db, sub, "Etc/GMT-1", 3000, 0, 0, NULL, home, &err), CT_OK);
    assert_string_equal(home, "RU-AAA");
    ct_close(db);
    tu_rmtree(dir);
    free(dir);
}

static int count_keys(void *ud, const char *k, const char *v, int is_default, const char *help)
{
    (void)k;
    (void)help;
    (void)is_default;
    if (!strcmp(k, "sms.password"))
        assert_string_equal(v, "***");
    (*(int *)ud)++;
    return 0;
}

static void test_config(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("notify-conf"), data[1024], buf[1100];
    snprintf(data, sizeof data, "%s/data", dir);
    assert_int_equal(ct_init(data, NULL), CT_OK);
    ct_err err;
    assert_int_equal(ct_config_get(data, "timezone", buf, sizeof buf, NULL), CT_OK);
    assert_string_equal(buf, "Europe/Moscow");
    assert_int_equal(ct_config_set(data, "sms.password", "s3cret", NULL), CT_OK);
    assert_int_equal(ct_config_set(data, "quarantine_days", "10", NULL), CT_OK);
    /* The thresholds of the levels (run re-levels when they change). */
    assert_int_equal(ct_config_set(data, "risk.test", "0.05", NULL), CT_OK);
    assert_int_equal(ct_config_set(data, "risk.quarantine", "model", NULL), CT_OK);
    assert_int_equal(ct_config_set(data, "risk.quarantine", "0", &err), CT_EINVAL);
    assert_int_equal(ct_config_set(data, "risk.quarantine", "1.5", &err), CT_EINVAL);
    /* crossing thresholds are refused: scored traces would all fail */
    assert_int_equal(ct_config_set(data, "risk.quarantine", "0.01", &err), CT_EINVAL);
    assert_non_null(strstr(err.msg, "must not be above"));
    assert_int_equal(ct_config_set(data, "risk.test", "0.9", &err), CT_EINVAL);
    assert_int_equal(ct_config_set(data, "nope", "1", &err), CT_EINVAL);
    assert_int_equal(ct_config_set(data, "sms.dlr_listen", "0.0.0.0:80", &err), CT_EINVAL);
    assert_int_equal(ct_config_set(data, "sms.dlr_listen", "10.0.0.1:8080", &err), CT_EINVAL);
    assert_int_equal(ct_config_set(data, "sms.dlr_listen", "127.0.0.2:8080", &err), CT_OK);
    assert_int_equal(ct_config_set(data, "sms.quiet_hours", "25:00-08:00", &err), CT_EINVAL);
    assert_int_equal(ct_config_set(data, "timezone", "Mars/Olympus", &err), CT_EINVAL);
    assert_int_equal(ct_config_set(data, "timezone", "../../etc/passwd", &err), CT_EINVAL);
    assert_int_equal(ct_config_set(data, "sms.rate", "0", &err), CT_EINVAL);
    assert_int_equal(ct_config_set(data, "sms.sender", "TOO-LONG-SENDER", &err), CT_EINVAL);
    assert_int_equal(ct_config_set(data, "sms.hotline", "a\nb", &err), CT_EINVAL);
    ct_conf c;
    assert_int_equal(ct__conf_load(data, &c, NULL), CT_OK);
    assert_string_equal(c.password, "s3cret");
    assert_int_equal(c.quarantine_days, 10);
    assert_true(c.risk_test == 0.05);
    assert_true(c.risk_quarantine == 0.0); /* "model" */
    assert_int_equal(c.quiet_from, 22 * 60);
    char host[64];
    unsigned port;
    assert_int_equal(ct__conf_listen(&c, host, sizeof host, &port, NULL), CT_OK);
    assert_string_equal(host, "127.0.0.2");
    assert_int_equal(port, 8080);
    int n = 0;
    assert_int_equal(ct_config_list(data, count_keys, &n, NULL), CT_OK);
    assert_int_equal(n, 24); /* ... risk.*, keys.* (4), appeals.deadline_hours, audit.rotate_kb */
    assert_int_equal(c.appeal_deadline_h, 72);
    assert_int_equal(c.audit_rotate_kb, 65536);
    assert_int_equal(ct_config_set(data, "appeals.deadline_hours", "1.5", &err), CT_EINVAL);
    assert_int_equal(ct_config_set(data, "appeals.deadline_hours", "8761", &err), CT_EINVAL);
    assert_int_equal(ct_config_set(data, "audit.rotate_kb", "0", &err), CT_EINVAL);
    /* Regression (the config fuzzer): a retry cap below the first delay
     * was accepted. Now refused, and fixable in the order a user types. */
    assert_int_equal(ct_config_set(data, "sms.retry_max_s", "10", &err), CT_EINVAL);
    assert_non_null(strstr(err.msg, "sms.retry_base_s (30) must not be above sms.retry_max_s (10)"));
    assert_int_equal(ct_config_set(data, "sms.retry_base_s", "5", &err), CT_OK);
    assert_int_equal(ct_config_set(data, "sms.retry_max_s", "10", &err), CT_OK);
    assert_int_equal(ct_config_set(data, "sms.retry_base_s", "11", &err), CT_EINVAL);
    char path[1100];
    snprintf(path, sizeof path, "%s/celltrace.conf", data);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* A file edited by hand with a bad value fails loudly. */
    tu_write(data, "celltrace.conf", "sms.rate = fast\n");
    assert_int_equal(ct__conf_load(data, &c, &err), CT_EINVAL);
    assert_non_null(strstr(err.msg, "celltrace.conf:1"));
    tu_rmtree(dir);
    free(dir);
}

/* The type and default of a column of nt_contacts; 0 when it has none. */
static int column_of(sqlite3 *db, const char *name, char *type, char *def)
{
    sqlite3_stmt *st;
    int found = 0;
    assert_int_equal(ct__ndb_prepare(db, "PRAGMA table_info(nt_contacts)", &st, NULL), CT_OK);
    while (sqlite3_step(st) == SQLITE_ROW)
        if (!strcmp((const char *)sqlite3_column_text(st, 1), name)) {
            found = 1;
            snprintf(type, 16, "%s", (const char *)sqlite3_column_text(st, 2));
            snprintf(def, 16, "%s", (const char *)sqlite3_column_text(st, 4));
        }
    sqlite3_finalize(st);
    return found;
}

/* A data directory from before the risk model: nt_contacts without the
 * risk columns, with a stored contact. Opening it adds the columns (once:
 * a second open changes nothing); the old row reads as level none. */
static void test_old_schema(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("notify-old"), data[1024], path[1100], type[16], def[16];
    snprintf(data, sizeof data, "%s/data", dir);
    assert_int_equal(ct_init(data, NULL), CT_OK);
    snprintf(path, sizeof path, "%s/catalog.db", data);
    sqlite3 *old;
    assert_int_equal(sqlite3_open(path, &old), SQLITE_OK);
    assert_int_equal(ct__ndb_exec(old,
        "DROP TABLE IF EXISTS nt_contacts;"
        "CREATE TABLE nt_contacts(case_id TEXT NOT NULL, subscriber INTEGER NOT NULL,"
        " exposure_s INTEGER NOT NULL, first_contact INTEGER NOT NULL, last_contact INTEGER"
        " NOT NULL, min_radius_m REAL NOT NULL, home_region TEXT NOT NULL, quarantine_end"
        " INTEGER NOT NULL, found_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
        " PRIMARY KEY(case_id, subscriber));"
        "CREATE INDEX nt_contacts_sub ON nt_contacts(subscriber);"
        "INSERT INTO nt_contacts VALUES('K1', 7, 1000, 1, 2, 300, 'RU-MOW', 3, 4, 4);", NULL),
        CT_OK);
    assert_false(column_of(old, "level", type, def));
    sqlite3_close(old);
    for (int round = 0; round < 2; round++) {
        sqlite3 *db;
        assert_int_equal(ct__ndb_open(data, &db, NULL), CT_OK);
        assert_true(column_of(db, "p_contact", type, def));
        assert_string_equal(type, "REAL");
        assert_true(column_of(db, "expected_near_s", type, def));
        assert_true(column_of(db, "level", type, def));
        assert_string_equal(def, "'none'");
        sqlite3_stmt *st;
        assert_int_equal(ct__ndb_prepare(db, "SELECT count(*), min(level), max(p_contact),"
                                         " max(expected_near_s) FROM nt_contacts", &st, NULL),
                         CT_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_int_equal(sqlite3_column_int(st, 0), 1);
        assert_string_equal((const char *)sqlite3_column_text(st, 1), "none");
        assert_true(sqlite3_column_double(st, 2) == 0.0);
        assert_true(sqlite3_column_double(st, 3) == 0.0);
        sqlite3_finalize(st);
        /* the index over every contact's subscriber gives way to one, of
         * the same name, over those at a level that gets a message */
        assert_int_equal(ct__ndb_prepare(db, "SELECT group_concat(name) FROM (SELECT name FROM"
                                         " sqlite_master WHERE tbl_name = 'nt_contacts' AND"
                                         " name LIKE 'nt_contacts_%' ORDER BY name)", &st, NULL),
                         CT_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_string_equal((const char *)sqlite3_column_text(st, 0),
                            "nt_contacts_day_added,nt_contacts_day_changed,"
                            "nt_contacts_day_removed,nt_contacts_level,nt_contacts_rank,"
                            "nt_contacts_region,nt_contacts_sub");
        sqlite3_finalize(st);
        assert_int_equal(ct__ndb_prepare(db, "SELECT sql FROM sqlite_master"
                                         " WHERE name = 'nt_contacts_sub'", &st, NULL), CT_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_non_null(strstr((const char *)sqlite3_column_text(st, 0), " WHERE level <> 'none'"));
        sqlite3_finalize(st);
        /* an older binary's open: its schema's whole index is not made again */
        assert_int_equal(ct__ndb_exec(db, "CREATE INDEX IF NOT EXISTS nt_contacts_sub ON"
                                      " nt_contacts(subscriber)", NULL), CT_OK);
        /* what latest_of asks (runs.c) is answered from it */
        assert_int_equal(ct__ndb_prepare(db, "EXPLAIN QUERY PLAN SELECT case_id FROM nt_contacts"
                                         " WHERE subscriber = ?1 AND level = ?2 AND level<>'none'",
                                         &st, NULL), CT_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_non_null(strstr((const char *)sqlite3_column_text(st, 3), "nt_contacts_sub"));
        sqlite3_finalize(st);
        sqlite3_close(db);
    }
    tu_rmtree(dir);
    free(dir);
}

static int64_t add_message(sqlite3 *db, const char *key)
{
    char sql[400];
    snprintf(sql, sizeof sql,
             "INSERT INTO nt_outbox(key, subscriber, kind, case_id, region, last_contact,"
             " quarantine_end, text, ucs2, next_at, created) VALUES('%s', 1, 'new', 'K1', 'R',"
             " 0, 0, 'hi', 0, 0, 0)", key);
    assert_int_equal(ct__ndb_exec(db, sql, NULL), CT_OK);
    return sqlite3_last_insert_rowid(db);
}

static void expect_state(sqlite3 *db, int64_t id, const char *want)
{
    sqlite3_stmt *st;
    assert_int_equal(ct__ndb_prepare(db, "SELECT state FROM nt_outbox WHERE id=?", &st, NULL), 0);
    sqlite3_bind_int64(st, 1, id);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), want);
    sqlite3_finalize(st);
}

static void test_dlr_transitions(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("notify-dlr"), data[1024];
    snprintf(data, sizeof data, "%s/data", dir);
    assert_int_equal(ct_init(data, NULL), CT_OK);
    sqlite3 *db;
    assert_int_equal(ct__ndb_open(data, &db, NULL), CT_OK);
    int64_t a = add_message(db, "a"), b = add_message(db, "b");
    ct_dlr_verdict v;
    int final;
    /* Never sent: a report is in the wrong state. */
    assert_int_equal(ct__ob_apply_dlr(db, a, 1, 10, &v, &final, NULL), CT_OK);
    assert_int_equal(v, CT_DLR_WRONG_STATE);
    assert_int_equal(ct__ob_apply_dlr(db, 999, 1, 10, &v, &final, NULL), CT_OK);
    assert_int_equal(v, CT_DLR_UNKNOWN);
    /* In flight: a report may overtake "sent". */
    ct_ob_msg m;
    int found;
    assert_int_equal(ct__ob_next_due(db, 5, &m, &found, NULL), CT_OK);
    assert_true(found);
    assert_int_equal(m.id, a);
    assert_int_equal(ct__ob_claim(db, &m, NULL), CT_OK);
    assert_int_equal(ct__ob_apply_dlr(db, a, 1, 10, &v, &final, NULL), CT_OK);
    assert_int_equal(v, CT_DLR_ACCEPTED);
    assert_int_equal(final, 1);
    assert_int_equal(ct__ob_sent(db, a, 11, NULL), CT_OK);
    expect_state(db, a, "delivered");
    /* Regression: a late "accepted by SMSC" after "delivered" is genuine. */
    assert_int_equal(ct__ob_apply_dlr(db, a, 8, 12, &v, &final, NULL), CT_OK);
    assert_int_equal(v, CT_DLR_ACCEPTED);
    assert_int_equal(final, 0);
    assert_int_equal(ct__ob_apply_dlr(db, a, 2, 12, &v, &final, NULL), CT_OK);
    assert_int_equal(v, CT_DLR_WRONG_STATE);
    expect_state(db, a, "delivered");
    expect_state(db, b, "queued");
    /* Retry, then failure through the SMSC. */
    assert_int_equal(ct__ob_next_due(db, 5, &m, &found, NULL), CT_OK);
    assert_int_equal(m.id, b);
    assert_int_equal(ct__ob_claim(db, &m, NULL), CT_OK);
    assert_int_equal(ct__ob_retry(db, b, 100, "gateway: HTTP 503", NULL), CT_OK);
    assert_int_equal(ct__ob_next_due(db, 50, &m, &found, NULL), CT_OK);
    assert_false(found);
    assert_int_equal(ct__ob_next_due(db, 100, &m, &found, NULL), CT_OK);
    assert_true(found);
    assert_int_equal(ct__ob_claim(db, &m, NULL), CT_OK);
    assert_int_equal(m.attempts, 2);
    assert_int_equal(ct__ob_sent(db, b, 101, NULL), CT_OK);
    assert_int_equal(ct__ob_apply_dlr(db, b, 16, 102, &v, &final, NULL), CT_OK);
    assert_int_equal(final, 2);
    expect_state(db, b, "failed");
    /* Expiry: queued too long. */
    int64_t c = add_message(db, "c");
    uint64_t n;
    assert_int_equal(ct__ob_expire(db, 1000, 500, &n, NULL), CT_OK);
    assert_int_equal(n, 1);
    expect_state(db, c, "expired");
    /* The idempotency key is unique. */
    assert_int_not_equal(ct__ndb_exec(db, "INSERT INTO nt_outbox(key, subscriber, kind, case_id,"
                         " region, last_contact, quarantine_end, text, ucs2, next_at, created)"
                         " VALUES('a',1,'new','K1','R',0,0,'x',0,0,0)", NULL), CT_OK);
    /* Tokens: per id, keyed. */
    unsigned char key[32], key2[32];
    ct_keyring *kr = NULL;
    assert_int_equal(ct_keys_unlock(data, NULL, &kr, NULL), CT_OK);
    memcpy(key, kr->s->set.dlr.k, 32);
    ct_keys_close(kr);
    assert_int_equal(ct_keys_unlock(data, NULL, &kr, NULL), CT_OK);
    memcpy(key2, kr->s->set.dlr.k, 32);
    ct_keys_close(kr);
    assert_memory_equal(key, key2, 32); /* kept, not made anew */
    char t1[33], t2[33];
    ct__ndb_token(key, 1, t1);
    ct__ndb_token(key, 2, t2);
    assert_int_equal(strlen(t1), 32);
    assert_string_not_equal(t1, t2);
    key2[0] ^= 1;
    ct__ndb_token(key2, 1, t2);
    assert_string_not_equal(t1, t2);
    sqlite3_close(db);
    tu_rmtree(dir);
    free(dir);
}

/* ct_run's state: a first run traces every case and queues by level; a
 * second queues nothing; new data in a case's window traces it again
 * (and only it); a new threshold re-levels without withdrawing anything. */
static void run_state_changes(void **state)
{
    (void)state;
    char *dir = tu_tmpdir("run-state");
    char data[1100], path[1200];
    snprintf(data, sizeof data, "%s/data", dir);
    ct_err err;
    ct_db *db;
    ct_import_summary s;
    assert_int_equal(ct_init(data, &err), CT_OK);
    assert_int_equal(ct_open(data, 1, &db, &err), CT_OK);
    snprintf(path, sizeof path, "%s/fixtures/levels/cells.csv", CT_TESTS_DIR);
    assert_int_equal(ct_cells_import(db, "250-01", path, NULL, &s, &err), CT_OK);
    snprintf(path, sizeof path, "%s/fixtures/levels/events.csv", CT_TESTS_DIR);
    ct_ingest *in;
    assert_int_equal(ct_ingest_begin(db, "250-01", NULL, &in, &err), CT_OK);
    assert_int_equal(ct_ingest_file(in, path, &err), CT_OK);
    assert_int_equal(ct_ingest_commit(in, &s, &err), CT_OK);
    snprintf(path, sizeof path, "%s/fixtures/levels/cases.csv", CT_TESTS_DIR);
    assert_int_equal(ct_cases_import(db, path, NULL, &s, &err), CT_OK);
    ct_close(db);
    /* quarantine for A only, a test for B, none for C (fixture README) */
    assert_int_equal(ct_config_set(data, "risk.test", "0.01", &err), CT_OK);
    assert_int_equal(ct_config_set(data, "risk.quarantine", "0.3", &err), CT_OK);
    ct_run_summary r;
    assert_int_equal(ct_open(data, 1, &db, &err), CT_OK);
    assert_int_equal(ct_run(db, NULL, &r, &err), CT_OK);
    assert_int_equal(r.cases_total, 1);
    assert_int_equal(r.cases_traced, 1);
    assert_int_equal(r.contacts, 3);
    assert_true(r.level_quarantine == 1 && r.level_test == 1 && r.level_none == 1);
    assert_int_equal(r.queued, 1);
    assert_int_equal(r.invitations, 1);
    /* again: nothing new, nothing traced, nothing queued */
    assert_int_equal(ct_run(db, NULL, &r, &err), CT_OK);
    assert_int_equal(r.cases_traced, 0);
    assert_int_equal(r.queued + r.extensions + r.invitations, 0);
    /* new data in the window: traced again, the same people already told */
    tu_write(dir, "late.csv", "msisdn,ts,cell_id\n79990000199,2020-03-24T10:00:00Z,X1\n");
    snprintf(path, sizeof path, "%s/late.csv", dir);
    assert_int_equal(ct_ingest_begin(db, "250-01", NULL, &in, &err), CT_OK);
    assert_int_equal(ct_ingest_file(in, path, &err), CT_OK);
    assert_int_equal(ct_ingest_commit(in, &s, &err), CT_OK);
    assert_int_equal(ct_run(db, NULL, &r, &err), CT_OK);
    assert_int_equal(r.cases_traced, 1);
    assert_int_equal(r.queued + r.invitations, 0);
    ct_close(db);
    /* a lower quarantine threshold: B is re-levelled and gets its order */
    assert_int_equal(ct_config_set(data, "risk.quarantine", "0.02", &err), CT_OK);
    assert_int_equal(ct_open(data, 1, &db, &err), CT_OK);
    assert_int_equal(ct_run(db, NULL, &r, &err), CT_OK);
    assert_int_equal(r.cases_traced, 1);
    assert_int_equal(r.level_quarantine, 2);
    assert_int_equal(r.queued, 1);
    /* a higher one again: levels go down, nothing is withdrawn */
    assert_int_equal(ct_run(db, NULL, &r, &err), CT_OK);
    ct_close(db);
    assert_int_equal(ct_config_set(data, "risk.quarantine", "0.3", &err), CT_OK);
    assert_int_equal(ct_open(data, 1, &db, &err), CT_OK);
    assert_int_equal(ct_run(db, NULL, &r, &err), CT_OK);
    assert_int_equal(r.level_quarantine, 1);
    assert_int_equal(r.queued + r.invitations, 0);
    sqlite3 *sql;
    assert_int_equal(ct__ndb_open(data, &sql, &err), CT_OK);
    uint64_t queued = 0;
    assert_int_equal(ct__ob_count(sql, "queued", 0, &queued, &err), CT_OK);
    assert_int_equal(queued, 3); /* A's order, B's invitation, B's order: all still queued */
    sqlite3_close(sql);
    ct_close(db);
    tu_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_texts_fit),   cmocka_unit_test(test_gsm7),
        cmocka_unit_test(test_gsm7_every_code_point),
        cmocka_unit_test(test_rules),       cmocka_unit_test(test_night),
        cmocka_unit_test(test_home_on_offset_change),
        cmocka_unit_test(test_offset_memo),
        cmocka_unit_test(test_config),      cmocka_unit_test(test_old_schema),
        cmocka_unit_test(test_dlr_transitions), cmocka_unit_test(run_state_changes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
