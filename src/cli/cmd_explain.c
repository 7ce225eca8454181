/*
 * cmd_explain.c — `celltrace trace CASE --explain MSISDN`: why one number
 * got its p_contact.
 *
 * What a person who appeals, or the official who decides the appeal,
 * needs to see: every episode (a visit of the case this number shared:
 * when, where each of the two was, how precise, how likely it was that
 * they were within D, and how much of the visit's evidence points at this
 * number rather than the others there), the moves they shared, and how
 * each term of the model adds to the log-odds that becomes p_contact. It
 * ends with what the evidence cannot show. Table for people, JSON for
 * programs; the library audits the read.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void place_text(const ct_place_info *pl, char *buf, size_t cap)
{
    char r[32];
    ct_format_radius(pl->radius_m, r);
    if (pl->is_point)
        snprintf(buf, cap, "GPS %s%s%.5f,%.5f +-%s m", pl->operator_name,
                 pl->operator_name[0] ? " " : "", pl->lat, pl->lon, r);
    else
        snprintf(buf, cap, "cell %s/%s r=%s m%s%s", pl->operator_name, pl->cell_id, r,
                 pl->region[0] ? " " : "", pl->region);
}

static void duration_text(int64_t s, char *buf, size_t cap)
{
    snprintf(buf, cap, "%lld:%02lld:%02lld", (long long)(s / 3600), (long long)(s / 60 % 60),
             (long long)(s % 60));
}

/* The largest number of others in one shared visit, and the smallest
 * radius sum, for the limits paragraph. */
static void crowd_of(const ct_explanation *x, uint32_t *others, double *share)
{
    *others = 0;
    *share = 0;
    for (size_t i = 0; i < x->n_episodes; i++)
        if (x->episodes[i].overlap_s > 0 && x->episodes[i].others > *others) {
            *others = x->episodes[i].others;
            *share = x->episodes[i].share;
        }
}

static void print_limits(FILE *out, const ct_explanation *x)
{
    char r[32];
    ct_format_radius(x->contact.min_radius_m, r);
    uint32_t others;
    double share;
    crowd_of(x, &others, &share);
    fprintf(out, "\nWhat this evidence cannot show:\n");
    if (!(x->contact.evidence & (CT_EVIDENCE_CELL_POINT | CT_EVIDENCE_POINT_POINT)))
        fprintf(out, "  Both phones were seen only through their cells (the tightest pair spans\n"
                     "  %s m). Cells say the two were in the same area, not within the contact\n"
                     "  distance: in the busiest shared visit %u other phones were in the same\n"
                     "  cells, and this number held %.3g of that visit's evidence.\n",
                r, others, share);
    else
        fprintf(out, "  GPS fixes narrow positions to their accuracy (the tightest pair spans %s m),\n"
                     "  not to the contact distance; walls and floors are not in the data.\n",
                r);
    fprintf(out, "  p_contact is calibrated on simulated cities (docs/RISK.md): among contacts\n"
                 "  given this value, about that share were truly within the contact distance.\n");
}

static void print_table(FILE *out, const ct_explanation *x, const ct_params *p)
{
    const ct_contact *c = &x->contact;
    char pr[32], near[32], dur[32], dist[32];
    ct_format_probability(c->p_contact, pr);
    ct_format_seconds(c->expected_near_s, near);
    duration_text(c->exposure_s, dur, sizeof dur);
    ct_format_radius(p->contact_distance_m, dist);
    fprintf(out, "Case %s, number %s: p_contact %s, level %s (model %s)\n", x->case_id, c->msisdn,
            pr, ct_level_name(c->level), x->model_version);
    fprintf(out, "%s: %s of overlap (SPEC 4 exposure %lld s, needs %lld s); expected %s s "
                 "within %s m.\n",
            x->is_contact ? "A contact of SPEC 4's net" : "Not a contact of SPEC 4's net", dur,
            (long long)c->exposure_s, (long long)p->min_exposure_s, near, dist);
    fprintf(out, "\nEpisodes (visits of the case this number shared), in time order:\n");
    fprintf(out, "  %-20s  %-20s  %9s  %9s  %10s  %9s  %6s  %s\n", "START", "END", "OVERLAP",
            "NEAR (s)", "P_NEAR", "SHARE", "OTHERS", "CASE PLACE / CONTACT PLACE");
    for (size_t i = 0; i < x->n_episodes; i++) {
        const ct_episode_info *e = &x->episodes[i];
        char a[32], b[32], o[32], n[32], cp[256], xp[256];
        ct_format_time(e->start, a);
        ct_format_time(e->end, b);
        duration_text(e->overlap_s, o, sizeof o);
        ct_format_seconds(e->expected_near_s, n);
        place_text(&e->case_place, cp, sizeof cp);
        place_text(&e->contact_place, xp, sizeof xp);
        fprintf(out, "  %-20s  %-20s  %9s  %9s  %10.3g  %9.3g  %6u  %s\n", a, b, o, n, e->p_near,
                e->share, e->others, cp);
        fprintf(out, "  %94s%s\n", "", xp);
    }
    if (x->n_moves) {
        fprintf(out, "\nMoves shared (the case changed place; this number had an event there "
                     "within the window):\n");
        for (size_t i = 0; i < x->n_moves; i++) {
            char t[32], pl[256];
            ct_format_time(x->moves[i].at, t);
            place_text(&x->moves[i].place, pl, sizeof pl);
            fprintf(out, "  %s  to %s  (%u subscriber%s shared it)\n", t, pl, x->moves[i].sharers,
                    x->moves[i].sharers == 1 ? "" : "s");
        }
    }
    fprintf(out, "\nHow the evidence adds up (log-odds = sum of value x coefficient):\n");
    fprintf(out, "  %-12s %12s %10s %12s  %s\n", "TERM", "VALUE", "COEF", "ADDS", "MEANING");
    for (size_t i = 0; i < x->n_terms; i++) {
        const ct_risk_term *t = &x->terms[i];
        fprintf(out, "  %-12s %12.5g %10.4g %12.4g  %s\n", t->name, t->value, t->coefficient,
                t->value * t->coefficient, t->meaning);
    }
    fprintf(out, "  log-odds %.4g -> p_contact %s (after calibration)\n", x->log_odds, pr);
    print_limits(out, x);
}

static void json_place(FILE *out, const char *key, const ct_place_info *pl)
{
    fprintf(out, "\"%s\":{\"kind\":\"%s\",\"operator\":", key, pl->is_point ? "point" : "cell");
    if (pl->operator_name[0])
        cli_json_text(out, pl->operator_name);
    else
        fputs("null", out); /* a contact's GPS position: the store keeps no operator */
    if (!pl->is_point) {
        fputs(",\"cell_id\":", out);
        cli_json_text(out, pl->cell_id);
        fputs(",\"region\":", out);
        cli_json_text(out, pl->region);
    }
    char r[32];
    ct_format_radius(pl->radius_m, r);
    fprintf(out, ",\"lat\":%.7f,\"lon\":%.7f,\"radius_m\":%s}", pl->lat, pl->lon, r);
}

static void print_json(FILE *out, const ct_explanation *x)
{
    const ct_contact *c = &x->contact;
    char pr[32], near[32], first[32], last[32], r[32];
    ct_format_probability(c->p_contact, pr);
    ct_format_seconds(c->expected_near_s, near);
    ct_format_time(c->first_contact, first);
    ct_format_time(c->last_contact, last);
    ct_format_radius(c->min_radius_m, r);
    fputs("{\"case_id\":", out);
    cli_json_text(out, x->case_id);
    fprintf(out, ",\"msisdn\":\"%s\",\"is_contact\":%s,\"exposure_s\":%lld,\"first_contact\":\"%s\","
                 "\"last_contact\":\"%s\",\"min_radius_m\":%s,\"p_contact\":%s,"
                 "\"expected_near_s\":%s,\"level\":\"%s\",\"model\":",
            c->msisdn, x->is_contact ? "true" : "false", (long long)c->exposure_s, first, last, r, pr,
            near, ct_level_name(c->level));
    cli_json_text(out, x->model_version);
    fprintf(out, ",\"log_odds\":%.9g,\"episodes\":[", x->log_odds);
    for (size_t i = 0; i < x->n_episodes; i++) {
        const ct_episode_info *e = &x->episodes[i];
        char a[32], b[32], n[32];
        ct_format_time(e->start, a);
        ct_format_time(e->end, b);
        ct_format_seconds(e->expected_near_s, n);
        fprintf(out, "%s\n {\"start\":\"%s\",\"end\":\"%s\",\"overlap_s\":%lld,\"expected_near_s\":%s,"
                     "\"p_near\":%.6g,\"share\":%.6g,\"others\":%u,",
                i ? "," : "", a, b, (long long)e->overlap_s, n, e->p_near, e->share, e->others);
        json_place(out, "case_place", &e->case_place);
        fputc(',', out);
        json_place(out, "contact_place", &e->contact_place);
        fputc('}', out);
    }
    fputs("],\"moves\":[", out);
    for (size_t i = 0; i < x->n_moves; i++) {
        char t[32];
        ct_format_time(x->moves[i].at, t);
        fprintf(out, "%s\n {\"at\":\"%s\",\"sharers\":%u,", i ? "," : "", t, x->moves[i].sharers);
        json_place(out, "place", &x->moves[i].place);
        fputc('}', out);
    }
    fputs("],\"terms\":[", out);
    for (size_t i = 0; i < x->n_terms; i++) {
        const ct_risk_term *t = &x->terms[i];
        fprintf(out, "%s\n {\"name\":\"%s\",\"value\":%.9g,\"coefficient\":%.9g,\"adds\":%.9g,"
                     "\"meaning\":",
                i ? "," : "", t->name, t->value, t->coefficient, t->value * t->coefficient);
        cli_json_text(out, t->meaning);
        fputc('}', out);
    }
    fputs("]}\n", out);
}

int trace_explain(cli_ctx *ctx, const char *case_id, const char *msisdn, const ct_params *p,
                  const ct_risk_opts *risk, int json)
{
    ct_db *db = cli_open(ctx, 0);
    if (!db)
        return EXIT_FAIL;
    ct_explanation *x = NULL;
    ct_err err;
    ct_code rc = ct_explain(db, case_id, msisdn, p, risk, &x, &err);
    ct_close(db);
    if (rc) {
        cli_error("%s", err.msg);
        return rc == CT_EINVAL ? EXIT_USAGE : EXIT_FAIL; /* not a phone number */
    }
    if (json)
        print_json(stdout, x);
    else
        print_table(stdout, x, p);
    ct_explanation_free(x);
    return EXIT_OK;
}
