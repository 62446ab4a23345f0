//! `RESULTS.md` from the results JSON: a headline table against the targets,
//! then one section per scenario and the noise on the machine while it ran.
//! Rendered from the JSON only, so the two files always agree.

use std::fmt::Write;

use serde_json::Value;

use crate::stats::{fmt_kib, fmt_mib};

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or(0.0)
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

/// Milliseconds from the JSON, printed like the latency figures.
fn ms(v: &Value) -> String {
    crate::stats::fmt_us((f(v) * 1000.0).round() as u64)
}

/// A verdict on a figure that may be missing (from an older harness's
/// results): nothing then.
fn judge(met: Option<bool>) -> &'static str {
    met.map(verdict).unwrap_or("")
}

/// Milliseconds from the JSON, or "–" when the figure is missing.
fn ms_or_dash(v: &Value) -> String {
    if v.is_null() {
        "–".into()
    } else {
        ms(v)
    }
}

fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "**missed**"
    }
}

fn cpu(v: &Value) -> String {
    if v.is_null() {
        return "–".into();
    }
    format!(
        "server {:.2}, bench {:.2}, fake {:.2}, others {:.2}",
        f(&v["server_cores"]),
        f(&v["bench_cores"]),
        f(&v["fake_cores"]),
        f(&v["others_cores"])
    )
}

/// A row of a load table; `cpu` is the server's CPU time per request in ms.
fn load_row(out: &mut String, label: &str, r: &Value, cpu: Option<f64>) {
    let _ = writeln!(
        out,
        "| {label} | {} | {:.0} | {} | {} | {} | {} | {} | {} |",
        u(&r["concurrency"]),
        f(&r["requests_per_second"]),
        cpu_ms(cpu),
        ms(&r["latency"]["p50_ms"]),
        ms(&r["latency"]["p99_ms"]),
        ms(&r["latency"]["max_ms"]),
        u(&r["requests_ok"]),
        u(&r["errors"]),
    );
}

const LOAD_HEAD: &str = "| what | connections | req/s | server CPU/request | p50 | p99 | max | requests | errors |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|";

/// The whole Markdown document; with `before` (an earlier run's results),
/// the targets table shows its figures beside this run's.
pub fn markdown(r: &Value, before: Option<&Value>) -> String {
    let mut o = String::new();
    let meta = &r["meta"];
    let m = &meta["machine"];
    let _ = writeln!(o, "# daehwa benchmark results\n");
    let _ = writeln!(
        o,
        "Produced by `{}` on {} at commit `{}`{}.\n",
        meta["command"].as_str().unwrap_or("bench/run"),
        meta["date"].as_str().unwrap_or(""),
        meta["commit"].as_str().unwrap_or("?"),
        if meta["quick"].as_bool() == Some(true) {
            " in **quick mode** (smaller data, shorter runs: not the figures to quote)"
        } else {
            ""
        }
    );
    let _ = writeln!(
        o,
        "Machine: {} × {}, {} GiB memory, Linux {}. Server, fake upstream and load \
         generator share these cores (loopback only). The whole run took {:.0} s.\n",
        u(&m["cores"]),
        m["cpu"].as_str().unwrap_or("?"),
        f(&m["memory_gib"]),
        m["kernel"].as_str().unwrap_or("?"),
        f(&meta["seconds"]),
    );
    if let Some(note) = meta["note"].as_str() {
        let _ = writeln!(o, "> {note}\n");
    }
    let others = f(&meta["others_cores_max"]);
    let _ = writeln!(
        o,
        "Noise: other processes used up to {others:.2} cores during a scenario \
         (1-minute load average {:.2} at the start, {:.2} at the end){}.\n",
        f(&meta["loadavg_start"]),
        f(&meta["loadavg_end"]),
        if others > 0.2 {
            "; **the machine was busy: treat the figures as pessimistic**"
        } else {
            ""
        }
    );

    headline(&mut o, r, before);
    details(&mut o, r);
    o
}

/// One row of the targets table, computed from one results.json so that two
/// runs (before and now) give rows to set side by side.
struct Row {
    /// Matches the rows of two runs.
    key: String,
    /// The scenario's number.
    num: &'static str,
    figure: String,
    /// What was measured on (data size, stream count…): the "before" cell
    /// names it when it differs from this run's.
    workload: String,
    measured: String,
    target: &'static str,
    /// `met`, `**missed**`, `**errors**` or nothing (no target).
    verdict: &'static str,
}

/// The server's CPU time per request of a list, search or exchange run, in
/// ms: stored with the run, or (results of older harnesses) from the CPU
/// table's entry for that run.
fn cpu_per_request(r: &Value, run: &Value, scenario: &str) -> Option<f64> {
    if let Some(v) = run["server_cpu_ms_per_request"].as_f64() {
        return Some(v);
    }
    let ok = u(&run["requests_ok"]);
    let cpu = r["cpu"]
        .as_array()?
        .iter()
        .find(|c| c["scenario"].as_str() == Some(scenario))?;
    let c = &cpu["cpu"];
    (ok > 0).then(|| f(&c["server_cores"]) * f(&c["seconds"]) * 1000.0 / ok as f64)
}

/// The server's CPU time per stream of a concurrent-streams scenario, in ms:
/// stored with it, or (results of older harnesses) from the CPU table.
fn cpu_per_stream(r: &Value, s: &Value) -> Option<f64> {
    if let Some(v) = s["server_cpu_ms_per_stream"].as_f64() {
        return Some(v);
    }
    let n = u(&s["streams"]);
    let scenario = format!("{n} streams through daehwa");
    let cpu = r["cpu"]
        .as_array()?
        .iter()
        .find(|c| c["scenario"].as_str() == Some(scenario.as_str()))?;
    let c = &cpu["cpu"];
    (n > 0).then(|| f(&c["server_cores"]) * f(&c["seconds"]) * 1000.0 / n as f64)
}

/// A CPU time per request or stream, in ms.
fn cpu_ms(v: Option<f64>) -> String {
    match v {
        Some(v) if v < 10.0 => format!("{v:.3} ms"),
        Some(v) => format!("{v:.1} ms"),
        None => "–".into(),
    }
}

fn ratio(v: &Value) -> String {
    v.as_f64()
        .map(|r| format!("×{r:.2}"))
        .unwrap_or_else(|| "–".into())
}

/// "daehwa / direct, ×ratio" of a concurrent-streams scenario's time to
/// first token at percentile `p` (`p50`, `p99`); a dash when the run did
/// not measure it (results of older harnesses).
fn versus(s: &Value, p: &str) -> String {
    let (through, direct) = (
        &s["daehwa"]["ttft"][format!("{p}_ms")],
        &s["direct"]["ttft"][format!("{p}_ms")],
    );
    if through.is_null() && direct.is_null() {
        return "–".into();
    }
    format!(
        "{} / {}, {}",
        ms_or_dash(through),
        ms_or_dash(direct),
        ratio(&s[format!("ttft_ratio_{p}")])
    )
}

const MIB: u64 = 1024 * 1024;

/// The rows of the targets table (the targets where they apply).
fn rows(r: &Value) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut row = |key: &str,
                   num: &'static str,
                   figure: String,
                   workload: String,
                   measured: String,
                   target: &'static str,
                   verdict: &'static str| {
        rows.push(Row {
            key: key.to_string(),
            num,
            figure,
            workload,
            measured,
            target,
            verdict,
        })
    };
    let none = String::new;
    let bin = u(&r["binary"]["bytes"]);
    if bin > 0 {
        row(
            "binary",
            "1",
            "binary size".into(),
            none(),
            fmt_mib(bin),
            "< 20 MB",
            verdict(bin < 20_000_000),
        );
    }
    for (key, label, target, limit) in [
        ("empty", "fresh", "< 10 ms (median)", 10.0),
        ("loaded", "loaded", "< 50 ms (median)", 50.0),
    ] {
        let c = &r["cold_start"][key];
        if c.is_null() {
            continue;
        }
        row(
            &format!("cold_{key}"),
            "1",
            format!("cold start, {label} database: median / p99"),
            format!("{} starts", u(&c["count"])),
            format!("{} / {}", ms(&c["p50_ms"]), ms(&c["p99_ms"])),
            target,
            verdict(f(&c["p50_ms"]) < limit),
        );
    }
    for (key, label) in [("empty_bytes", "empty"), ("loaded_bytes", "loaded")] {
        let rss = u(&r["idle_rss"][key]);
        if rss > 0 {
            row(
                &format!("idle_{label}"),
                "1",
                format!("idle RSS, {label} database"),
                none(),
                fmt_mib(rss),
                "< 12 MiB",
                verdict(rss < 12 * MIB),
            );
        }
    }
    let conversations = format!("{} conversations", u(&r["data"]["conversations"]));
    let messages = format!("{} messages", u(&r["data"]["messages"]));
    for run in r["list"].as_array().into_iter().flatten() {
        let c = u(&run["concurrency"]);
        let cpu = cpu_per_request(r, run, &format!("list, {c} connections"));
        let rps = f(&run["requests_per_second"]);
        let p99 = f(&run["latency"]["p99_ms"]);
        let at32 = c == 32;
        let met =
            cpu.map(|cpu| rps >= 10_000.0 && cpu <= 0.15 && p99 < 10.0 && u(&run["errors"]) == 0);
        row(
            &format!("list_{c}"),
            "2",
            format!("conversation list, first page, {c} connections: req/s, server CPU/request, p50, p99"),
            conversations.clone(),
            format!(
                "{rps:.0}/s, {}, {}, {}",
                cpu_ms(cpu),
                ms(&run["latency"]["p50_ms"]),
                ms(&run["latency"]["p99_ms"])
            ),
            if at32 {
                "≥ 10,000 req/s, ≤ 0.15 ms CPU/request, p99 < 10 ms"
            } else {
                "–"
            },
            if at32 { judge(met) } else { "" },
        );
    }
    for search in r["search"].as_array().into_iter().flatten() {
        let q = search["q"].as_str().unwrap_or("");
        for run in search["runs"].as_array().into_iter().flatten() {
            let c = u(&run["concurrency"]);
            if c != 32 {
                continue; // the 128-connection runs: in section 2
            }
            let cpu = cpu_per_request(r, run, &format!("search ?q={q}, {c} connections"));
            let p99 = f(&run["latency"]["p99_ms"]);
            row(
                &format!("search_{q}_{c}"),
                "2",
                format!("search `{q}`, {c} connections: req/s, server CPU/request, p50, p99"),
                messages.clone(),
                format!(
                    "{:.0}/s, {}, {}, {}",
                    f(&run["requests_per_second"]),
                    cpu_ms(cpu),
                    ms(&run["latency"]["p50_ms"]),
                    ms(&run["latency"]["p99_ms"])
                ),
                "p99 < 30 ms",
                verdict(p99 < 30.0 && u(&run["errors"]) == 0),
            );
        }
    }
    for run in r["exchanges"].as_array().into_iter().flatten() {
        let c = u(&run["concurrency"]);
        let cpu = cpu_per_request(r, run, &format!("exchanges, {c} connections"));
        row(
            &format!("exchanges_{c}"),
            "3",
            format!("non-streamed exchanges, {c} connections: exchanges/s, server CPU/exchange, p50, p99"),
            none(),
            format!(
                "{:.0}/s, {}, {}, {}",
                f(&run["requests_per_second"]),
                cpu_ms(cpu),
                ms(&run["latency"]["p50_ms"]),
                ms(&run["latency"]["p99_ms"])
            ),
            "–",
            if u(&run["errors"]) == 0 { "" } else { "**errors**" },
        );
    }
    let t = &r["ttft"];
    if !t.is_null() {
        let overhead = f(&t["ttft_overhead_ms"]);
        let tokens = u(&t["tokens"]);
        row(
            "ttft",
            "4",
            "time to first token, one stream: daehwa / direct (median), overhead, ratio".into(),
            format!("{tokens} tokens"),
            format!(
                "{} / {}, +{}, ×{:.2}",
                ms(&t["daehwa"]["ttft"]["p50_ms"]),
                ms(&t["direct"]["ttft"]["p50_ms"]),
                ms(&t["ttft_overhead_ms"]),
                f(&t["ttft_ratio"])
            ),
            "overhead < 1 ms",
            verdict(overhead < 1.0 && u(&t["errors"]) == 0),
        );
        row(
            "ttft_total",
            "4",
            "whole answer, one stream: daehwa / direct (median), overhead, ratio".into(),
            format!("{tokens} tokens"),
            format!(
                "{} / {}, +{}, ×{:.2}",
                ms(&t["daehwa"]["total"]["p50_ms"]),
                ms(&t["direct"]["total"]["p50_ms"]),
                ms(&t["total_overhead_ms"]),
                f(&t["total_ratio"])
            ),
            "–",
            "",
        );
    }
    let b = &r["burst"];
    if !b.is_null() {
        let n = u(&b["streams"]);
        let workload = format!("{n} streams of {} tokens", u(&b["tokens"]));
        let errors = u(&b["errors"]);
        let cpu = cpu_per_stream(r, b);
        row(
            "burst_errors",
            "5",
            format!("{n} concurrent saved streams, no delay: errors"),
            workload.clone(),
            errors.to_string(),
            "0",
            verdict(errors == 0),
        );
        row(
            "burst_cpu",
            "5",
            "… server CPU per stream".into(),
            workload.clone(),
            cpu_ms(cpu),
            "< 2.5 ms",
            judge(cpu.map(|c| c < 2.5)),
        );
        row(
            "burst_ttft",
            "5",
            "… first token p50: daehwa / direct, ratio".into(),
            workload,
            versus(b, "p50"),
            "≤ 1.3× direct",
            judge(b["ttft_ratio_p50"].as_f64().map(|r| r <= 1.3)),
        );
    }
    let s = &r["streams"];
    if !s.is_null() {
        let n = u(&s["streams"]);
        let workload = format!(
            "{n} streams of {} tokens at one per {} ms",
            u(&s["tokens"]),
            u(&s["delay_ms"])
        );
        let errors = u(&s["errors"]);
        let peak = u(&s["peak_rss_bytes"]);
        let cpu = cpu_per_stream(r, s);
        row(
            "streams_errors",
            "6",
            format!("{n} concurrent saved streams at 20 tokens/s: errors"),
            workload.clone(),
            errors.to_string(),
            "0",
            verdict(errors == 0),
        );
        for (key, p, target, limit) in [
            ("p50", "p50", "≤ 1.5× direct", 1.5),
            ("p99", "p99", "≤ 2× direct", 2.0),
        ] {
            let r = &s[format!("ttft_ratio_{key}")];
            row(
                &format!("streams_ttft_{key}"),
                "6",
                format!("… first token {p}: daehwa / direct, ratio"),
                workload.clone(),
                versus(s, key),
                target,
                judge(r.as_f64().map(|r| r <= limit)),
            );
        }
        row(
            "streams_rss",
            "6",
            "… peak RSS of the server".into(),
            workload.clone(),
            fmt_mib(peak),
            "< 120 MiB",
            verdict(peak > 0 && peak < 120 * MIB),
        );
        row(
            "streams_cpu",
            "6",
            "… server CPU per stream".into(),
            workload.clone(),
            cpu_ms(cpu),
            "< 8 ms",
            judge(cpu.map(|c| c < 8.0)),
        );
        row(
            "streams_gap",
            "6",
            "… added inter-token latency p99: daehwa / direct".into(),
            workload,
            format!(
                "{} / {}",
                ms(&s["daehwa"]["added_p99_ms"]),
                ms(&s["direct"]["added_p99_ms"])
            ),
            "–",
            "",
        );
    }
    let w = &r["web"]["first_load"];
    if !w.is_null() {
        row(
            "web",
            "7",
            "web app first load: JS, CSS (raw → gzip)".into(),
            none(),
            format!(
                "{} → {}, {} → {}",
                fmt_kib(u(&w["js_bytes"])),
                fmt_kib(u(&w["js_gzip_bytes"])),
                fmt_kib(u(&w["css_bytes"])),
                fmt_kib(u(&w["css_gzip_bytes"])),
            ),
            "–",
            "",
        );
    }
    rows
}

/// "at commit `abc` (quick mode)" for a run's column.
fn run_name(r: &Value) -> String {
    format!(
        "`{}`{}",
        r["meta"]["commit"].as_str().unwrap_or("?"),
        if r["meta"]["quick"].as_bool() == Some(true) {
            ", quick"
        } else {
            ""
        }
    )
}

fn headline(o: &mut String, r: &Value, before: Option<&Value>) {
    let _ = writeln!(o, "## Against the targets\n");
    let now = rows(r);
    let Some(before) = before else {
        let _ = writeln!(
            o,
            "| # | figure | measured | target | |\n|---|---|---|---|---|"
        );
        for row in &now {
            let workload = if row.workload.is_empty() {
                String::new()
            } else {
                format!(" ({})", row.workload)
            };
            let _ = writeln!(
                o,
                "| {} | {}{workload} | {} | {} | {} |",
                row.num, row.figure, row.measured, row.target, row.verdict
            );
        }
        let _ = writeln!(o);
        return;
    };
    let then = rows(before);
    let _ = writeln!(
        o,
        "Before: the run of {} at commit {}. A \"before\" figure measured on other data \
         or load than now's says on what.\n",
        before["meta"]["date"].as_str().unwrap_or("?"),
        run_name(before)
    );
    let _ = writeln!(
        o,
        "| # | figure | target | before ({}) | | now ({}) | |\n|---|---|---|---|---|---|---|",
        run_name(before),
        run_name(r)
    );
    for row in &now {
        let workload = if row.workload.is_empty() {
            String::new()
        } else {
            format!(" ({})", row.workload)
        };
        let (was, was_verdict) = match then.iter().find(|b| b.key == row.key) {
            Some(b) if b.workload != row.workload => {
                (format!("{} ({})", b.measured, b.workload), b.verdict)
            }
            Some(b) => (b.measured.clone(), b.verdict),
            None => ("–".to_string(), ""),
        };
        let _ = writeln!(
            o,
            "| {} | {}{workload} | {} | {was} | {was_verdict} | {} | {} |",
            row.num, row.figure, row.target, row.measured, row.verdict
        );
    }
    let _ = writeln!(o);
}

fn details(o: &mut String, r: &Value) {
    let d = &r["data"];
    let _ = writeln!(o, "## 1. Size, start, memory\n");
    let _ = writeln!(
        o,
        "- Binary `target/release/daehwa`: {} bytes.",
        u(&r["binary"]["bytes"])
    );
    for key in ["empty", "loaded"] {
        let c = &r["cold_start"][key];
        let _ = writeln!(
            o,
            "- Cold start on the {key} database, process spawn → first 200 from `/api/v1/health` \
             ({} starts): min {}, median {}, p99 {}, max {}.",
            u(&c["count"]),
            ms(&c["min_ms"]),
            ms(&c["p50_ms"]),
            ms(&c["p99_ms"]),
            ms(&c["max_ms"])
        );
    }
    let _ = writeln!(
        o,
        "- Idle RSS one second after start: {} (empty database), {} (loaded database).",
        fmt_mib(u(&r["idle_rss"]["empty_bytes"])),
        fmt_mib(u(&r["idle_rss"]["loaded_bytes"]))
    );
    let _ = writeln!(
        o,
        "- Loaded data: {} conversations, {} messages of one user written straight into the \
         file in {:.0} s{}; the file is {}.\n",
        u(&d["conversations"]),
        u(&d["messages"]),
        f(&d["seconds"]),
        if d["from_cache"].as_bool() == Some(true) {
            " by an earlier run, copied from the data cache for this one"
        } else {
            ""
        },
        fmt_mib(u(&d["db_bytes"]))
    );

    let _ = writeln!(o, "## 2. Conversation list and keyword search\n");
    let _ = writeln!(o, "{LOAD_HEAD}");
    for run in r["list"].as_array().into_iter().flatten() {
        let scenario = format!("list, {} connections", u(&run["concurrency"]));
        let cpu = cpu_per_request(r, run, &scenario);
        load_row(o, "`GET /conversations` (first page, 50)", run, cpu);
    }
    for search in r["search"].as_array().into_iter().flatten() {
        let q = search["q"].as_str().unwrap_or("");
        for run in search["runs"].as_array().into_iter().flatten() {
            let label = format!(
                "`?q={q}`: {}; {} conversations match",
                search["what"].as_str().unwrap_or(""),
                u(&search["matching_conversations"])
            );
            let scenario = format!("search ?q={q}, {} connections", u(&run["concurrency"]));
            load_row(o, &label, run, cpu_per_request(r, run, &scenario));
        }
    }
    let _ = writeln!(o);
    let _ = writeln!(o, "One search request alone, before its runs:\n");
    for search in r["search"].as_array().into_iter().flatten() {
        let _ = writeln!(
            o,
            "- `?q={}`: {}{}",
            search["q"].as_str().unwrap_or(""),
            ms(&search["probe_ms"]),
            if search["capped"].as_bool() == Some(true) {
                " (so each run above was one request per connection: a closed loop would take minutes)"
            } else {
                ""
            }
        );
    }
    let _ = writeln!(o);

    let _ = writeln!(
        o,
        "## 3. Non-streamed exchanges (zero-delay upstream, 20 tokens)\n"
    );
    let _ = writeln!(o, "{LOAD_HEAD}");
    for run in r["exchanges"].as_array().into_iter().flatten() {
        let scenario = format!("exchanges, {} connections", u(&run["concurrency"]));
        let cpu = cpu_per_request(r, run, &scenario);
        load_row(o, "`POST …/messages`", run, cpu);
    }
    let _ = writeln!(
        o,
        "\nServer CPU/request: the server's CPU time (user + system, all threads) over \
         the run divided by the requests answered with the expected status.\n"
    );

    let t = &r["ttft"];
    if !t.is_null() {
        let _ = writeln!(
            o,
            "## 4. One streamed answer, 200 tokens, zero delay ({} pairs, alternating)\n",
            u(&t["pairs"])
        );
        let _ = writeln!(
            o,
            "| | first token p50 | p99 | whole answer p50 | p99 |\n|---|---:|---:|---:|---:|"
        );
        for (key, label) in [
            ("daehwa", "through daehwa"),
            ("direct", "straight from the fake"),
        ] {
            let _ = writeln!(
                o,
                "| {label} | {} | {} | {} | {} |",
                ms(&t[key]["ttft"]["p50_ms"]),
                ms(&t[key]["ttft"]["p99_ms"]),
                ms(&t[key]["total"]["p50_ms"]),
                ms(&t[key]["total"]["p99_ms"])
            );
        }
        let _ = writeln!(
            o,
            "\nMedian of the paired differences: first token +{}, whole answer +{}. Errors: {}.\n",
            ms(&t["ttft_paired_overhead_ms"]),
            ms(&t["total_paired_overhead_ms"]),
            u(&t["errors"])
        );
    }

    let b = &r["burst"];
    if !b.is_null() {
        let _ = writeln!(
            o,
            "## 5. {} concurrent streams, {} tokens each, no delay\n",
            u(&b["streams"]),
            u(&b["tokens"]),
        );
        streams_section(o, r, b);
    }
    let s = &r["streams"];
    if !s.is_null() {
        let _ = writeln!(
            o,
            "## 6. {} concurrent streams, {} tokens each at one per {} ms\n",
            u(&s["streams"]),
            u(&s["tokens"]),
            u(&s["delay_ms"])
        );
        streams_section(o, r, s);
    }

    let w = &r["web"];
    if !w.is_null() {
        let _ = writeln!(o, "## 7. Web app first load\n");
        let _ = writeln!(o, "| file | bytes | gzip |\n|---|---:|---:|");
        for file in w["first_load"]["files"].as_array().into_iter().flatten() {
            let _ = writeln!(
                o,
                "| `{}` | {} | {} |",
                file["file"].as_str().unwrap_or(""),
                u(&file["bytes"]),
                u(&file["gzip_bytes"])
            );
        }
        let a = &w["assets_total"];
        let _ = writeln!(
            o,
            "| all {} files of `dist/assets` (lazy chunks too) | {} | {} |\n",
            u(&a["files"]),
            u(&a["bytes"]),
            u(&a["gzip_bytes"])
        );
    }

    let _ = writeln!(o, "## CPU used while each scenario ran (in cores)\n");
    let _ = writeln!(o, "| scenario | CPU |\n|---|---|");
    for item in r["cpu"].as_array().into_iter().flatten() {
        let _ = writeln!(
            o,
            "| {} | {} |",
            item["scenario"].as_str().unwrap_or(""),
            cpu(&item["cpu"])
        );
    }
    let _ = writeln!(
        o,
        "\n\"others\" is everything else on the machine (other people's builds and tests): \
         the noise in the figures above. Raw numbers: `results.json`."
    );
}

/// The table and the server's figures of a concurrent-streams scenario.
fn streams_section(o: &mut String, r: &Value, s: &Value) {
    let _ = writeln!(
        o,
        "| | errors | first token p50 | p99 | all first tokens after | all done after | gap p50 | gap p99 | gap max | added p99 |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for (key, label) in [
        ("daehwa", "through daehwa"),
        ("direct", "straight from the fake"),
    ] {
        let x = &s[key];
        let _ = writeln!(
            o,
            "| {label} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            u(&x["errors"]),
            ms_or_dash(&x["ttft"]["p50_ms"]),
            ms_or_dash(&x["ttft"]["p99_ms"]),
            ms(&x["all_first_token_ms"]),
            ms(&x["all_done_ms"]),
            ms(&x["gaps"]["p50_ms"]),
            ms(&x["gaps"]["p99_ms"]),
            ms(&x["gaps"]["max_ms"]),
            ms(&x["added_p99_ms"]),
        );
    }
    let _ = writeln!(
        o,
        "\nFirst token through daehwa ÷ direct: p50 {}, p99 {}. Server: CPU {} per stream \
         (its CPU time while the streams ran ÷ {}), RSS {} before, peak {} (VmHWM {}), \
         up to {} threads.{}\n",
        ratio(&s["ttft_ratio_p50"]),
        ratio(&s["ttft_ratio_p99"]),
        cpu_ms(cpu_per_stream(r, s)),
        u(&s["streams"]),
        fmt_mib(u(&s["rss_before_bytes"])),
        fmt_mib(u(&s["peak_rss_bytes"])),
        fmt_mib(u(&s["vmhwm_bytes"])),
        u(&s["peak_threads"]),
        match s["daehwa"]["first_error"].as_str() {
            Some(e) => format!(" First error: `{e}`."),
            None => String::new(),
        }
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(commit: &str, p99: f64, cpu_per_request: Option<f64>) -> Value {
        let mut list = json!({
            "concurrency": 32, "requests_per_second": 12000.0, "requests_ok": 36000,
            "errors": 0, "latency": { "p50_ms": 2.0, "p99_ms": p99 },
        });
        if let Some(c) = cpu_per_request {
            list["server_cpu_ms_per_request"] = json!(c);
        }
        json!({
            "meta": { "commit": commit, "date": "2026-12-01T00:00:00Z" },
            "data": { "conversations": 10000, "messages": 1000000 },
            "list": [list],
            "cpu": [{ "scenario": "list, 32 connections",
                      "cpu": { "server_cores": 1.5, "seconds": 3.0 } }],
        })
    }

    #[test]
    fn cpu_per_request_falls_back_to_the_cpu_table() {
        let old = run("a", 5.0, None);
        // 1.5 cores × 3 s = 4.5 s over 36,000 requests.
        let cpu = cpu_per_request(&old, &old["list"][0], "list, 32 connections");
        assert!((cpu.unwrap() - 0.125).abs() < 1e-9);
    }

    #[test]
    fn the_targets_table_sets_before_beside_now() {
        let before = run("aaa", 25.0, Some(0.3));
        let now = run("bbb", 5.0, Some(0.1));
        let md = markdown(&now, Some(&before));
        assert!(md.contains("| before (`aaa`) | | now (`bbb`) | |"));
        let line = md
            .lines()
            .find(|l| l.contains("conversation list, first page, 32 connections"))
            .unwrap();
        assert!(
            line.contains("0.300 ms, 2.00 ms, 25.0 ms | **missed** |"),
            "{line}"
        );
        assert!(
            line.contains("0.100 ms, 2.00 ms, 5.00 ms | met |"),
            "{line}"
        );
    }
}
