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

/// The whole Markdown document.
pub fn markdown(r: &Value) -> String {
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

    headline(&mut o, r);
    details(&mut o, r);
    o
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

fn headline(o: &mut String, r: &Value) {
    let _ = writeln!(o, "## Against the targets\n");
    let _ = writeln!(
        o,
        "| # | figure | measured | target | |\n|---|---|---|---|---|"
    );
    let bin = u(&r["binary"]["bytes"]);
    let _ = writeln!(
        o,
        "| 1 | binary size | {} | < 20 MB | {} |",
        fmt_mib(bin),
        verdict(bin < 20_000_000)
    );
    for (key, label) in [("empty", "empty"), ("loaded", "loaded")] {
        let c = &r["cold_start"][key];
        let _ = writeln!(
            o,
            "| 1 | cold start, {label} database (median / p99 of {}) | {} / {} | < 50 ms | {} |",
            u(&c["count"]),
            ms(&c["p50_ms"]),
            ms(&c["p99_ms"]),
            verdict(f(&c["p50_ms"]) < 50.0)
        );
    }
    for (key, label) in [("empty_bytes", "empty"), ("loaded_bytes", "loaded")] {
        let rss = u(&r["idle_rss"][key]);
        let _ = writeln!(
            o,
            "| 1 | idle RSS, {label} database | {} | < 20 MB | {} |",
            fmt_mib(rss),
            verdict(rss < 20_000_000)
        );
    }
    let conversations = u(&r["data"]["conversations"]);
    let messages = u(&r["data"]["messages"]);
    for run in r["list"].as_array().into_iter().flatten() {
        let c = u(&run["concurrency"]);
        let p99 = f(&run["latency"]["p99_ms"]);
        let _ = writeln!(
            o,
            "| 2 | list ({conversations} conversations), {c} connections: req/s, p50, p99 | {:.0}/s, {}, {} | p99 < 5 ms at 32 | {} |",
            f(&run["requests_per_second"]),
            ms(&run["latency"]["p50_ms"]),
            ms(&run["latency"]["p99_ms"]),
            if c == 32 { verdict(p99 < 5.0 && u(&run["errors"]) == 0) } else { "" }
        );
    }
    for search in r["search"].as_array().into_iter().flatten() {
        for run in search["runs"].as_array().into_iter().flatten() {
            let p99 = f(&run["latency"]["p99_ms"]);
            let _ = writeln!(
                o,
                "| 2 | search `{}` ({messages} messages), {} connections: req/s, p50, p99 | {:.1}/s, {}, {} | p99 < 50 ms | {} |",
                search["q"].as_str().unwrap_or(""),
                u(&run["concurrency"]),
                f(&run["requests_per_second"]),
                ms(&run["latency"]["p50_ms"]),
                ms(&run["latency"]["p99_ms"]),
                verdict(p99 < 50.0 && u(&run["errors"]) == 0)
            );
        }
    }
    for run in r["exchanges"].as_array().into_iter().flatten() {
        let _ = writeln!(
            o,
            "| 3 | non-streamed exchanges, {} connections: exchanges/s, p50, p99 | {:.0}/s, {}, {} | – | {} |",
            u(&run["concurrency"]),
            f(&run["requests_per_second"]),
            ms(&run["latency"]["p50_ms"]),
            ms(&run["latency"]["p99_ms"]),
            if u(&run["errors"]) == 0 { "" } else { "**errors**" }
        );
    }
    let t = &r["ttft"];
    if !t.is_null() {
        let overhead = f(&t["ttft_overhead_ms"]);
        let _ = writeln!(
            o,
            "| 4 | time to first token, 200 tokens: daehwa / direct (median), overhead, ratio | {} / {}, +{}, ×{:.2} | overhead < 1 ms | {} |",
            ms(&t["daehwa"]["ttft"]["p50_ms"]),
            ms(&t["direct"]["ttft"]["p50_ms"]),
            ms(&t["ttft_overhead_ms"]),
            f(&t["ttft_ratio"]),
            verdict(overhead < 1.0 && u(&t["errors"]) == 0)
        );
        let _ = writeln!(
            o,
            "| 4 | whole answer, 200 tokens: daehwa / direct (median), overhead, ratio | {} / {}, +{}, ×{:.2} | – | |",
            ms(&t["daehwa"]["total"]["p50_ms"]),
            ms(&t["direct"]["total"]["p50_ms"]),
            ms(&t["total_overhead_ms"]),
            f(&t["total_ratio"]),
        );
    }
    let s = &r["streams"];
    if !s.is_null() {
        let n = u(&s["streams"]);
        let errors = u(&s["errors"]);
        let peak = u(&s["peak_rss_bytes"]);
        let _ = writeln!(
            o,
            "| 5 | {n} concurrent streams at 20 tokens/s: errors | {errors} | 0 | {} |",
            verdict(errors == 0)
        );
        let _ = writeln!(
            o,
            "| 5 | … peak RSS of the server | {} | < 150 MB | {} |",
            fmt_mib(peak),
            verdict(peak < 150_000_000)
        );
        let _ = writeln!(
            o,
            "| 5 | … added inter-token latency p99 (through daehwa / straight from the fake) | {} / {} | – | |",
            ms(&s["daehwa"]["added_p99_ms"]),
            ms(&s["direct"]["added_p99_ms"]),
        );
    }
    let w = &r["web"]["first_load"];
    if !w.is_null() {
        let _ = writeln!(
            o,
            "| 6 | web app first load: JS, CSS (raw → gzip) | {} → {}, {} → {} | – | |",
            fmt_kib(u(&w["js_bytes"])),
            fmt_kib(u(&w["js_gzip_bytes"])),
            fmt_kib(u(&w["css_bytes"])),
            fmt_kib(u(&w["css_gzip_bytes"])),
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
         file in {:.0} s; the file is {}.\n",
        u(&d["conversations"]),
        u(&d["messages"]),
        f(&d["seconds"]),
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
