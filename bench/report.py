"""Tables, ratios, target checks and the chart of one `make bench` run, from its own records."""

import json

PEERS = ("google-authenticator", "oath")
MODULE_ORDER = ("totpd",) + PEERS + ("permit",)


def pam_rows(results):
    return [r for r in results if r["point"] == "pam"]


def find(results, **keys):
    for record in results:
        if all(record.get(k) == v for k, v in keys.items()):
            return record
    return None


def total_cpu(record):
    return record["cpu_us_per_auth"] + record["daemon_cpu_us_per_auth"]


def ratio(a, b):
    return a / b if b else float("nan")


def pam_table(results, users):
    lines = [f"\nThrough libpam, {users:,} users (p50 µs / auths/s / CPU µs per auth, module + daemon; accepted/auths)",
             f"{'mode':<8}{'code':<7}" + "".join(f"{m:>36}" for m in MODULE_ORDER) + f"{'totpd/g-a p50':>15}{'totpd/oath p50':>16}"]
    for mode, processes in (("fork", 1), ("fork", 2), ("warm", 1)):
        for code in ("right", "wrong"):
            cells, records = [], {}
            for module in MODULE_ORDER:
                r = find(results, point="pam", users=users, module=module, mode=mode, processes=processes, code=code)
                records[module] = r
                cells.append(f"{r['p50_us']:>9.0f} {r['auths_per_s']:>7.0f} {total_cpu(r):>7.0f} {r['accepted']:>5}/{r['auths']:<5}" if r else f"{'-':>36}")
            totpd = records["totpd"]
            ratios = [ratio(totpd["p50_us"], records[p]["p50_us"]) if totpd and records[p] else float("nan") for p in PEERS]
            label = f"{mode}x{processes}" if processes > 1 else mode
            lines.append(f"{label:<8}{code:<7}" + "".join(f"{c:>36}" for c in cells) + f"{ratios[0]:>15.2f}{ratios[1]:>16.2f}")
    return lines


def socket_table(results, users):
    lines = [f"\nAt the socket, {users:,} users",
             f"{'op':<14}" + SOCKET_HEADER + "  answers"]
    for r in results:
        if r["point"] == "socket" and r["users"] == users:
            answers = f"{r['ok']} ok {r['rejected']} rej {r['other_answers'] + r['locked'] + r['no_answer']} other"
            lines.append(f"{r['op']:<14}" + socket_cells(r) + f"  {answers}")
    return lines


SOCKET_HEADER = (f"{'clients':>8}{'req/s':>9}{'p50 µs':>9}{'p99 µs':>10}{'max µs':>10}{'CPU µs/req':>12}"
                 f"{'load gen µs':>12}{'RSS MiB':>9}")


def socket_cells(r):
    return (f"{r['clients']:>8}{r['rps']:>9.0f}{r['p50_us']:>9.0f}{r['p99_us']:>10.0f}{r['max_us']:>10.0f}"
            f"{r['daemon_cpu_us_per_request']:>12.1f}{r.get('client_cpu_us_per_request', float('nan')):>12.1f}"
            f"{r['daemon_rss_kib'] / 1024:>9.1f}")


def connection_floor_table(results):
    """The null request against a C server and a SwiftNIO server that do nothing else."""
    rows = [r for r in results if r["point"] == "connection-floor"]
    if not rows:
        return []
    lines = ["\nConnection floors: the null request against servers that do nothing else (CPU µs/req is the server's)",
             f"{'server':<14}" + SOCKET_HEADER]
    for r in rows:
        lines.append(f"{r['server']:<14}" + socket_cells(r))
    return lines


def fmt(value, width, decimals):
    return f"{'failed':>{width}}" if value is None else f"{value:>{width}.{decimals}f}"


def scale_table(results):
    lines = ["\nScale and floors",
             f"{'users':>10}  {'accounts from':<22}{'store MiB':>10}{'RSS MiB':>9}{'start ms':>9}{'list ms':>10}{'status ms':>10}"
             f"{'HMAC µs':>9}{'fdatasync µs':>13}{'getpwnam µs':>12}"]
    for scale in (r for r in results if r["point"] == "scale"):
        users = scale["users"]
        start = find(results, point="start", users=users) or {}
        floor = find(results, point="floors", users=users) or {}
        lines.append(f"{users:>10,}  {scale['nss']:<22}{scale['store_mib']:>10.1f}{scale['rss_mib']:>9.1f}"
                     f"{start.get('first_answer_ms', float('nan')):>9.1f}{fmt(scale['list_ms'], 10, 0)}{fmt(scale['status_ms'], 10, 1)}"
                     f"{floor.get('hmac_us', float('nan')):>9.2f}{floor.get('fdatasync_p50_us', float('nan')):>13.0f}"
                     f"{floor.get('getpwnam_p50_us', float('nan')):>12.1f}")
    return lines


def targets(results):
    """Each target of the performance issue, measured in this run: (name, value, limit, met)."""
    checks = []

    def add(name, value, limit, met):
        if value is not None:
            checks.append({"point": "target", "target": name, "value": round(value, 3), "limit": limit, "met": bool(met)})

    users = min((r["users"] for r in pam_rows(results)), default=None)
    if users is not None:
        def pam(module, mode, processes, code):
            return find(results, point="pam", users=users, module=module, mode=mode, processes=processes, code=code)

        for mode in ("fork", "warm"):
            t, g = pam("totpd", mode, 1, "right"), pam("google-authenticator", mode, 1, "right")
            if t and g:
                add(f"right code p50 {mode} / google-authenticator", t["p50_us"] / g["p50_us"], "<= 0.7", t["p50_us"] <= 0.7 * g["p50_us"])
        t, g = pam("totpd", "fork", 2, "right"), pam("google-authenticator", "fork", 2, "right")
        if t and g:
            add("right code auths/s, 2 processes / google-authenticator", t["auths_per_s"] / g["auths_per_s"], ">= 1.5",
                t["auths_per_s"] >= 1.5 * g["auths_per_s"])
        t, g = pam("totpd", "fork", 1, "wrong"), pam("google-authenticator", "fork", 1, "wrong")
        if t and g:
            add("wrong code p50 / google-authenticator", t["p50_us"] / g["p50_us"], "<= 0.25", t["p50_us"] <= 0.25 * g["p50_us"])
        t, g = pam("totpd", "warm", 1, "wrong"), pam("google-authenticator", "warm", 1, "wrong")
        if t and g:
            add("wrong code CPU / google-authenticator (warm)", total_cpu(t) / total_cpu(g), "<= 0.1", total_cpu(t) <= 0.1 * total_cpu(g))
        for r in pam_rows(results):
            if r["module"] == "totpd" and r["code"] == "right" and r["accepted"] != r["auths"]:
                add(f"totpd accepted every right code ({r['mode']}x{r['processes']}, {r['users']} users)", r["accepted"], r["auths"], False)
    sockets = [r for r in results if r["point"] == "socket"]
    for op, limit in (("verify-right", 100), ("precheck", 50)):
        rows = [r for r in sockets if r["op"] == op and r["clients"] == 64]
        for r in rows:
            add(f"daemon CPU per {op} at 64 clients, {r['users']:,} users (µs)", r["daemon_cpu_us_per_request"], f"<= {limit}",
                r["daemon_cpu_us_per_request"] <= limit)
    for r in sockets:
        if r["op"] == "verify-right" and r["clients"] == 64:
            add(f"VERIFY/s at 64 clients, {r['users']:,} users", r["rps"], ">= 20000", r["rps"] >= 20000)
            add(f"VERIFY p99 at 64 clients, {r['users']:,} users (ms)", r["p99_us"] / 1000, "<= 10", r["p99_us"] <= 10000)
        if r["op"] == "verify-right" and r["clients"] == 8:
            add(f"VERIFY p99 at 8 clients, {r['users']:,} users (ms)", r["p99_us"] / 1000, "<= 2", r["p99_us"] <= 2000)
    sizes = sorted({r["users"] for r in pam_rows(results)})
    if len(sizes) > 1:
        small, large = sizes[0], sizes[-1]
        a = find(results, point="pam", users=small, module="totpd", mode="fork", processes=1, code="right")
        b = find(results, point="pam", users=large, module="totpd", mode="fork", processes=1, code="right")
        fa = find(results, point="floors", users=small)
        fb = find(results, point="floors", users=large)
        if a and b and fa and fb:
            cost_a = a["p50_us"]
            cost_b = b["p50_us"] - max(fb["getpwnam_p50_us"] - fa["getpwnam_p50_us"], 0)
            add(f"right code p50 at {large:,} / at {small:,} users (beyond the NSS floor)", cost_b / cost_a, "<= 1.25", cost_b <= 1.25 * cost_a)
    for scale in (r for r in results if r["point"] == "scale"):
        for command in ("list", "status"):
            add(f"totpctl {command} works with {scale['users']:,} users", 0 if scale[f"{command}_ms"] is None else 1, "= 1",
                scale[f"{command}_ms"] is not None)
    for scale in (r for r in results if r["point"] == "scale" and r["users"] >= 1000000):
        add(f"RSS with {scale['users']:,} users (MiB)", scale["rss_mib"], "<= 50", scale["rss_mib"] <= 50)
    for start in (r for r in results if r["point"] == "start"):
        add(f"socket-activated start to first answer, {start['users']:,} users (ms)", start["first_answer_ms"], "<= 100",
            start["first_answer_ms"] <= 100)
    return checks


def chart(results):
    """Two panels as SVG: auth p50 against users (right code, new process per login) for each
    module, and VERIFY requests/s against clients for each store size."""
    width, height, pad = 460, 300, 50
    colors = {"totpd": "#1f77b4", "google-authenticator": "#d62728", "oath": "#2ca02c", "permit": "#7f7f7f"}
    import math

    def panel(x0, title, series, xlabel, ylabel):
        points = [p for _, pts in series for p in pts]
        if not points:
            return ""
        xs = [math.log10(p[0]) for p in points]
        ymax = max(p[1] for p in points) * 1.1 or 1
        xmin, xmax = min(xs), max(xs)
        if xmax == xmin:
            xmin, xmax = xmin - 0.5, xmax + 0.5

        def sx(x):
            return x0 + pad + (math.log10(x) - xmin) / (xmax - xmin) * (width - 2 * pad)

        def sy(y):
            return height - pad - y / ymax * (height - 2 * pad)

        parts = [f'<text x="{x0 + width / 2}" y="20" text-anchor="middle" font-size="14">{title}</text>',
                 f'<line x1="{x0 + pad}" y1="{height - pad}" x2="{x0 + width - pad}" y2="{height - pad}" stroke="black"/>',
                 f'<line x1="{x0 + pad}" y1="{pad}" x2="{x0 + pad}" y2="{height - pad}" stroke="black"/>',
                 f'<text x="{x0 + width / 2}" y="{height - 12}" text-anchor="middle" font-size="12">{xlabel}</text>',
                 f'<text x="{x0 + 14}" y="{height / 2}" text-anchor="middle" font-size="12" transform="rotate(-90 {x0 + 14} {height / 2})">{ylabel}</text>']
        for tick in sorted({p[0] for p in points}):
            parts.append(f'<text x="{sx(tick)}" y="{height - pad + 15}" text-anchor="middle" font-size="10">{tick:,}</text>')
        for i in range(5):
            y = ymax * i / 4
            parts.append(f'<text x="{x0 + pad - 4}" y="{sy(y) + 3}" text-anchor="end" font-size="10">{y:,.0f}</text>')
        for n, (name, pts) in enumerate(series):
            color = colors.get(name, ["#9467bd", "#8c564b", "#e377c2"][n % 3])
            path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in sorted(pts))
            parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{path}"/>')
            parts += [f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3" fill="{color}"/>' for x, y in pts]
            parts.append(f'<text x="{x0 + width - pad + 4}" y="{pad + 14 * n}" font-size="11" fill="{color}">{name}</text>')
        return "\n".join(parts)

    auth = []
    for module in MODULE_ORDER:
        pts = [(r["users"], r["p50_us"]) for r in pam_rows(results)
               if r["module"] == module and r["mode"] == "fork" and r["processes"] == 1 and r["code"] == "right"]
        if pts:
            auth.append((module, pts))
    load = []
    for users in sorted({r["users"] for r in results if r["point"] == "socket"}):
        pts = [(r["clients"], r["rps"]) for r in results
               if r["point"] == "socket" and r["users"] == users and r["op"] == "verify-right"]
        if pts:
            load.append((f"{users:,} users", pts))
    body = panel(0, "pam_authenticate p50, right code (new process)", auth, "enrolled users", "µs") + \
        panel(width + 60, "VERIFY per second at the socket", load, "concurrent clients", "requests/s")
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * width + 160}" height="{height}" '
            f'font-family="sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n{body}\n</svg>\n')


def write(results, out):
    lines = []
    for users in sorted({r["users"] for r in pam_rows(results)}):
        lines += pam_table(results, users)
        lines += socket_table(results, users)
    lines += scale_table(results)
    lines += connection_floor_table(results)
    checks = targets(results)
    lines.append("\nTargets")
    for check in checks:
        lines.append(f"  {'met ' if check['met'] else 'MISS'}  {check['target']}: {check['value']} ({check['limit']})")
    text = "\n".join(lines) + "\n"
    print(text)
    (out / "report.txt").write_text(text)
    with open(out / "results.jsonl", "a") as saved:
        for check in checks:
            saved.write(json.dumps(check) + "\n")
            print(json.dumps(check))
    (out / "chart.svg").write_text(chart(results))
    print(f"results: {out / 'results.jsonl'}, table: {out / 'report.txt'}, chart: {out / 'chart.svg'}")
