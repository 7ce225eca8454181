/*
 * templates.c — message texts and the GSM-7 / UCS-2 decision.
 *
 * Four kinds (ct_msg_kind): the order to self-isolate (first notice),
 * its extension, the invitation to a test for a contact at level `test`
 * (docs/NOTIFY.md), and the invitation to a test of everyone an area query
 * found at a venue (docs/AREA.md), which names the day but not the place. The texts are short on purpose: the Russian
 * ones fit two UCS-2 parts, the English ones one GSM-7 part (checked by
 * the unit test), because every extra part is an extra message to pay
 * for and to lose. They say what to do, until when, and where to call;
 * they name no case and no place. The invitation names no end date: it
 * asks to stay at home until the test result.
 *
 * The encoding is chosen from the text itself: a text is GSM-7 only when
 * every code point is in the GSM 03.38 default alphabet or its extension
 * table (the latter costs two septets). Kannel receives the UTF-8 text
 * with charset=UTF-8 and coding 0 or 2 accordingly.
 */
#include "templates.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"

/* Indexed by language, then ct_msg_kind - 1. */
static const char *const TEXTS[2][5] = {
    /* ru: first notice, extension, test invitation, area invitation, lifted */
    {"Минздрав: вы были в контакте с заболевшим COVID-19 {last_contact}. "
     "Оставайтесь дома до {quarantine_end}. Горячая линия {hotline}",
     "Минздрав: новый контакт с заболевшим COVID-19 {last_contact}. "
     "Самоизоляция продлена до {quarantine_end}. Горячая линия {hotline}",
     "Минздрав: вы могли быть рядом с заболевшим COVID-19 {last_contact}. "
     "Сдайте тест: горячая линия {hotline}. До результата будьте дома",
     "Минздрав: {last_contact} вы были там, где распространялся COVID-19. "
     "Сдайте тест: горячая линия {hotline}. До результата будьте дома",
     "Минздрав: по вашей апелляции самоизоляция после контакта {last_contact} "
     "отменена. Горячая линия {hotline}"},
    /* en */
    {"Ministry of Health: you were in contact with a COVID-19 case, last contact "
     "{last_contact}. Stay at home until {quarantine_end}. Hotline {hotline}",
     "Ministry of Health: new contact with a COVID-19 case on {last_contact}. Stay at home "
     "until {quarantine_end}. Hotline {hotline}",
     "Ministry of Health: you may have been near a COVID-19 case on {last_contact}. "
     "Get tested: call the hotline {hotline}. Stay at home until the result.",
     "Ministry of Health: on {last_contact} you were at a place where COVID-19 spread. "
     "Get tested: call {hotline}. Stay at home until the result.",
     "Ministry of Health: your appeal is upheld. The order to stay at home after the "
     "contact on {last_contact} is lifted. Hotline {hotline}"},
};

/* GSM 03.38 default alphabet, in UTF-8; then the extension table. */
static const char GSM_BASIC[] =
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
static const char GSM_EXT[] = "^{}\\[~]|€\f";

/* Decodes one UTF-8 code point; returns bytes used, 0 on bad input. */
static size_t utf8_next(const unsigned char *s, uint32_t *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    size_t n = (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3 : (s[0] & 0xF8) == 0xF0 ? 4 : 0;
    if (!n)
        return 0;
    uint32_t v = s[0] & (0x7F >> n);
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    *cp = v;
    return n;
}

/* The septets each code point of the two alphabets costs (1 in the
 * default alphabet, 2 in the extension table, 0 outside both): built once
 * from GSM_BASIC and GSM_EXT, which stay the one statement of the
 * alphabet. ASCII by a table, the rest (about 40) by binary search:
 * every message `run` queues is measured twice, and a scan of the
 * alphabet per code point cost 50 us a message. */
typedef struct gsm_char {
    uint32_t cp;
    uint8_t septets;
} gsm_char;

static uint8_t ascii_septets[128];
static gsm_char beyond_ascii[64]; /* 40 used; test_notify counts every member */
static size_t n_beyond_ascii;
static pthread_once_t alphabet_once = PTHREAD_ONCE_INIT;

static int cmp_gsm_char(const void *a, const void *b)
{
    uint32_t x = ((const gsm_char *)a)->cp, y = ((const gsm_char *)b)->cp;
    return x < y ? -1 : x > y;
}

static const gsm_char *find_beyond_ascii(uint32_t cp)
{
    gsm_char key = {cp, 0};
    return bsearch(&key, beyond_ascii, n_beyond_ascii, sizeof key, cmp_gsm_char);
}

/* Adds the code points of `set` that neither table holds yet, at `septets`
 * each: the default alphabet goes first, so it wins over the extension. */
static void add_alphabet(const char *set, uint8_t septets)
{
    const unsigned char *p = (const unsigned char *)set;
    uint32_t cp;
    size_t n;
    while (*p && (n = utf8_next(p, &cp)) != 0) {
        p += n;
        if (cp < 128) {
            if (!ascii_septets[cp])
                ascii_septets[cp] = septets;
            continue;
        }
        int known = 0;
        for (size_t i = 0; i < n_beyond_ascii; i++)
            known |= beyond_ascii[i].cp == cp;
        if (!known && n_beyond_ascii < sizeof beyond_ascii / sizeof *beyond_ascii)
            beyond_ascii[n_beyond_ascii++] = (gsm_char){cp, septets};
    }
}

static void build_alphabet(void)
{
    add_alphabet(GSM_BASIC, 1);
    add_alphabet(GSM_EXT, 2);
    qsort(beyond_ascii, n_beyond_ascii, sizeof *beyond_ascii, cmp_gsm_char);
}

/* 1 or 2 septets for a code point of GSM 03.38, 0 for any other. */
static unsigned gsm_septets(uint32_t cp)
{
    if (cp < 128)
        return ascii_septets[cp];
    const gsm_char *c = find_beyond_ascii(cp);
    return c ? c->septets : 0;
}

/* Septets (GSM) and UTF-16 units (UCS-2) of a text; -1 on bad UTF-8. */
static int measure(const char *utf8, size_t *septets, size_t *units, int *gsm)
{
    const unsigned char *p = (const unsigned char *)utf8;
    *septets = *units = 0;
    *gsm = 1;
    pthread_once(&alphabet_once, build_alphabet);
    while (*p) {
        uint32_t cp;
        size_t n = utf8_next(p, &cp);
        if (!n)
            return -1;
        p += n;
        *units += cp > 0xFFFF ? 2 : 1;
        unsigned cost = gsm_septets(cp);
        *septets += cost;
        if (!cost)
            *gsm = 0;
    }
    return 0;
}

int ct__gsm7_only(const char *utf8)
{
    size_t s, u;
    int gsm;
    return measure(utf8, &s, &u, &gsm) == 0 && gsm;
}

int ct__sms_parts(const char *utf8, int *ucs2)
{
    size_t s, u;
    int gsm;
    if (measure(utf8, &s, &u, &gsm) != 0) {
        *ucs2 = 1;
        return CT_SMS_PARTS_MAX + 1;
    }
    *ucs2 = !gsm;
    if (gsm)
        return s <= 160 ? 1 : (int)((s + 152) / 153);
    return u <= 70 ? 1 : (int)((u + 66) / 67);
}

static size_t append(char *out, size_t n, size_t cap, const char *s, size_t len)
{
    if (n + len < cap)
        memcpy(out + n, s, len);
    return n + len;
}

const char *ct__msg_kind_name(ct_msg_kind kind)
{
    switch (kind) {
    case CT_MSG_EXTENSION: return "extension";
    case CT_MSG_TEST: return "test";
    case CT_MSG_AREA: return "area";
    case CT_MSG_LIFTED: return "lifted";
    case CT_MSG_FIRST: break;
    }
    return "new";
}

ct_code ct__template_render(const char *lang, ct_msg_kind kind, const char *last_contact,
                           const char *quarantine_end, const char *hotline, char *out,
                           size_t cap, ct_err *err)
{
    int li = strcmp(lang, "ru") == 0 ? 0 : strcmp(lang, "en") == 0 ? 1 : -1;
    if (li < 0)
        return ct__fail(err, CT_EINVAL, "no message template for language '%s'", lang);
    if (kind < CT_MSG_FIRST || kind > CT_MSG_LIFTED)
        return ct__fail(err, CT_EINVAL, "no message template of kind %d", (int)kind);
    const char *t = TEXTS[li][kind - CT_MSG_FIRST];
    static const char *const names[] = {"{last_contact}", "{quarantine_end}", "{hotline}"};
    const char *vals[] = {last_contact, quarantine_end ? quarantine_end : "", hotline};
    size_t n = 0;
    while (*t) {
        size_t i = 0;
        while (i < 3 && strncmp(t, names[i], strlen(names[i])) != 0)
            i++;
        if (i < 3) {
            n = append(out, n, cap, vals[i], strlen(vals[i]));
            t += strlen(names[i]);
        } else {
            n = append(out, n, cap, t++, 1);
        }
    }
    if (n >= cap)
        return ct__fail(err, CT_ELIMIT, "message text longer than %zu bytes", cap - 1);
    out[n] = '\0';
    int ucs2;
    if (ct__sms_parts(out, &ucs2) > CT_SMS_PARTS_MAX)
        return ct__fail(err, CT_ELIMIT, "message needs more than %d SMS parts",
                        CT_SMS_PARTS_MAX);
    return CT_OK;
}
