//! The loaded database: conversations and messages of one user written
//! straight into daehwa's SQLite file while the server is stopped (loading a
//! million messages through the API would take hours). The rows follow
//! `schema.sql` exactly — a message chain per conversation, `current_message_id`
//! and `message_count` set, UUID v7 ids that sort by time — and the FTS5 tables
//! are filled by the schema's own triggers in the same transaction.
//!
//! The text is mixed Korean and English chat about pets, health, code,
//! cooking, travel, work and study, from a seeded generator, so every run
//! writes the same data. The search keywords have known frequencies:
//! `강아지` common, `설사` in a fair share of pet and health chats (two
//! characters: the bigram index), `양자컴퓨터` and `낙타` in a few dozen
//! messages only (the rare cases, where a search must look at everything).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use rusqlite::{params, Connection};
use serde_json::{json, Value};
use uuid::{NoContext, Timestamp, Uuid};

/// The keywords the search scenario asks for, with what they exercise.
pub const SEARCHES: &[(&str, &str)] = &[
    ("강아지", "common word, trigram index"),
    ("양자컴퓨터", "rare word, trigram index"),
    ("설사", "2 characters, bigram index"),
    ("낙타", "rare, 2 characters, bigram index"),
    ("강아지,설사", "two keywords (AND), both indexes"),
];

/// A small, fast, seeded generator (SplitMix64): the same data every run.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

struct Topic {
    titles: &'static [&'static str],
    questions: &'static [&'static str],
    answers: &'static [&'static str],
    /// Sentences with `설사`, used now and then in this topic.
    diarrhea: &'static [&'static str],
}

const TOPICS: &[Topic] = &[
    Topic {
        titles: &["강아지 산책 고민", "고양이 사료 추천", "강아지 예방접종 일정", "반려견 훈련 방법"],
        questions: &[
            "우리 강아지가 요즘 밥을 잘 안 먹어요. 왜 그럴까요?",
            "강아지 산책은 하루에 몇 번 하는 게 좋나요?",
            "고양이가 밤마다 울어요. 어떻게 해야 하죠?",
            "생후 {n}개월 강아지 예방접종은 언제 맞춰야 하나요?",
            "강아지를 처음 키우는데 준비물이 뭐가 있을까요?",
            "My puppy keeps chewing the furniture. Any tips?",
        ],
        answers: &[
            "강아지가 밥을 거부하는 이유는 스트레스, 사료 변경, 치아 문제 등 다양합니다.",
            "산책은 보통 하루 두 번, 한 번에 {n}분 정도가 적당합니다.",
            "고양이는 야행성이라 밤에 활동량이 늘어나는 것이 자연스럽습니다.",
            "예방접종은 수의사와 상담해 일정을 정하는 것이 가장 안전합니다.",
            "새로운 환경에 적응하는 데 보통 {n}일에서 2주 정도 걸립니다.",
            "간식은 하루 섭취 열량의 10%를 넘지 않도록 주세요.",
            "강아지가 기운이 없고 토하는 증상이 함께 있다면 병원에 가 보세요.",
            "Give the puppy chew toys and praise it when it uses them instead of the furniture.",
        ],
        diarrhea: &[
            "강아지가 설사를 하면 반나절 정도 금식시키고 물을 충분히 주세요.",
            "어제부터 강아지가 설사를 해요. 병원에 가야 할까요?",
        ],
    },
    Topic {
        titles: &["감기 증상 문의", "두통이 잦을 때", "건강한 식단 짜기", "수면 습관 개선"],
        questions: &[
            "감기에 걸린 것 같은데 약을 먹어야 할까요?",
            "요즘 두통이 자주 오는데 원인이 뭘까요?",
            "하루에 물은 얼마나 마셔야 하나요?",
            "잠들기가 너무 어려워요. 좋은 방법이 있을까요?",
            "Is it okay to exercise with a mild cold?",
        ],
        answers: &[
            "감기는 대부분 충분한 휴식과 수분 섭취로 {n}일 안에 좋아집니다.",
            "열이 38도 이상으로 계속되면 진료를 받는 것이 좋습니다.",
            "두통은 수면 부족, 스트레스, 탈수 등 여러 원인으로 생길 수 있습니다.",
            "성인은 하루에 약 1.5에서 2리터의 물을 권장합니다.",
            "잠들기 한 시간 전에는 스마트폰 화면을 멀리하는 것이 도움이 됩니다.",
            "Light exercise is usually fine if the symptoms are above the neck only.",
        ],
        diarrhea: &[
            "설사가 이틀 이상 계속되면 탈수에 주의해야 합니다.",
            "배탈이 나서 설사를 하는데 무엇을 먹으면 좋을까요?",
        ],
    },
    Topic {
        titles: &["Rust lifetime 질문", "Python 비동기 처리", "SQL 쿼리 최적화", "Git rebase vs merge"],
        questions: &[
            "Rust에서 borrow checker 에러가 나요: cannot borrow `x` as mutable more than once.",
            "Python asyncio에서 gather와 wait의 차이가 뭔가요?",
            "SQLite에서 인덱스를 언제 써야 하나요?",
            "How do I undo the last git commit without losing changes?",
            "What is the difference between Arc and Rc in Rust?",
        ],
        answers: &[
            "The borrow checker ensures that a value has either one mutable reference or any number of shared references.",
            "`Arc` is an atomically reference-counted pointer, safe to share between threads; `Rc` is cheaper but single-threaded.",
            "Use `git reset --soft HEAD~1` to undo the commit and keep the changes staged.",
            "인덱스는 WHERE 절과 ORDER BY에 자주 쓰이는 컬럼에 만드는 것이 좋습니다.",
            "asyncio.gather는 모든 작업의 결과를 순서대로 돌려주고, wait는 완료된 집합과 대기 중인 집합을 돌려줍니다.",
            "```rust\nfn main() {\n    let v = vec![1, 2, {n}];\n    println!(\"{:?}\", v);\n}\n```",
            "EXPLAIN QUERY PLAN을 실행하면 SQLite가 인덱스를 쓰는지 확인할 수 있습니다.",
        ],
        diarrhea: &[],
    },
    Topic {
        titles: &["김치찌개 레시피", "다이어트 도시락", "주말 브런치 메뉴"],
        questions: &[
            "김치찌개 맛있게 끓이는 법 알려주세요.",
            "냉장고에 계란이랑 두부밖에 없는데 뭘 만들 수 있을까요?",
            "{n}인분 불고기 양념 비율이 궁금해요.",
            "Can you suggest a quick vegetarian lunch?",
        ],
        answers: &[
            "잘 익은 김치를 돼지고기와 함께 먼저 볶으면 국물 맛이 깊어집니다.",
            "두부 계란 부침은 간단하면서도 단백질이 풍부한 반찬입니다.",
            "간장, 설탕, 다진 마늘, 참기름을 4:2:1:1 비율로 섞어 보세요.",
            "양파를 충분히 볶으면 단맛이 살아납니다.",
            "A chickpea salad with lemon, olive oil and herbs takes about {n} minutes.",
        ],
        diarrhea: &[],
    },
    Topic {
        titles: &["제주도 3박 4일 일정", "부산 맛집 추천", "오사카 여행 준비", "Trip to Lisbon"],
        questions: &[
            "제주도 여행 일정 좀 짜 주세요. {n}박 일정이에요.",
            "부산에서 꼭 가봐야 할 곳이 어디인가요?",
            "What should I pack for a week in Lisbon in spring?",
            "오사카에서 교토까지 어떻게 가는 게 제일 편해요?",
        ],
        answers: &[
            "첫째 날은 공항 근처 해안 도로를 따라 애월 쪽으로 이동하는 것을 추천합니다.",
            "해운대와 광안리는 저녁 야경이 특히 아름답습니다.",
            "Bring layers: spring mornings in Lisbon can be cool while afternoons are warm.",
            "성산일출봉은 이른 아침에 가면 사람이 적습니다.",
            "한큐 전철을 타면 약 {n}분 만에 교토 시내에 도착합니다.",
        ],
        diarrhea: &[],
    },
    Topic {
        titles: &["회의록 정리", "이메일 작성 도움", "보고서 요약", "Quarterly report draft"],
        questions: &[
            "오늘 회의 내용을 요약해 주세요: 일정 지연, 예산 {n}% 증액, 다음 주 재검토.",
            "거래처에 보낼 정중한 사과 이메일을 써 주세요.",
            "Can you summarize this report in three bullet points?",
        ],
        answers: &[
            "회의 요약: 1) 일정이 2주 지연됨 2) 예산 증액 승인 3) 다음 주 화요일에 재검토.",
            "안녕하세요, 먼저 불편을 드려 진심으로 죄송합니다.",
            "Revenue grew {n}% quarter over quarter, driven mostly by the new subscription plan.",
            "결론부터 말씀드리면 이번 분기 목표는 달성했습니다.",
        ],
        diarrhea: &[],
    },
    Topic {
        titles: &["영어 회화 공부", "미적분 기초", "한국사 정리"],
        questions: &[
            "영어 회화를 혼자 공부하는 좋은 방법이 있을까요?",
            "미분과 적분의 관계를 쉽게 설명해 주세요.",
            "조선 시대 세종대왕의 업적을 정리해 주세요.",
            "How many new words should I learn per day?",
        ],
        answers: &[
            "매일 {n}분씩 소리 내어 따라 읽는 쉐도잉이 효과적입니다.",
            "미분은 변화율을, 적분은 누적된 양을 구하는 것으로 서로 역연산 관계입니다.",
            "세종대왕은 훈민정음을 창제하고 측우기와 해시계 제작을 지원했습니다.",
            "About {n} words a day, reviewed with spaced repetition, is sustainable.",
        ],
        diarrhea: &[],
    },
];

/// Share of messages (anywhere) that mention the rare keywords.
const RARE_TRIGRAM: f64 = 3e-5;
const RARE_BIGRAM: f64 = 2e-5;
/// Chance that a pet or health message talks about `설사`.
const DIARRHEA: f64 = 0.03;

fn fill(rng: &mut Rng, template: &str) -> String {
    template.replace("{n}", &(2 + rng.below(28)).to_string())
}

/// A question: one or two sentences of the topic.
fn question(rng: &mut Rng, topic: &Topic) -> String {
    let mut text = if !topic.diarrhea.is_empty() && rng.chance(DIARRHEA) {
        rng.pick(topic.diarrhea).to_string()
    } else {
        let s = rng_pick(rng, topic.questions);
        fill(rng, s)
    };
    if rng.chance(0.3) {
        text.push(' ');
        let extra = rng_pick(rng, topic.questions);
        text.push_str(&fill(rng, extra));
    }
    rare(rng, &mut text);
    text
}

/// An answer: two to five sentences of the topic.
fn answer(rng: &mut Rng, topic: &Topic) -> String {
    let n = 2 + rng.below(4);
    let mut parts = Vec::with_capacity(n);
    for _ in 0..n {
        if !topic.diarrhea.is_empty() && rng.chance(DIARRHEA) {
            parts.push(rng.pick(topic.diarrhea).to_string());
        } else {
            let s = rng_pick(rng, topic.answers);
            parts.push(fill(rng, s));
        }
    }
    let mut text = parts.join(" ");
    rare(rng, &mut text);
    text
}

fn rng_pick(rng: &mut Rng, items: &'static [&'static str]) -> &'static str {
    items[rng.below(items.len())]
}

fn rare(rng: &mut Rng, text: &mut String) {
    if rng.chance(RARE_TRIGRAM) {
        text.push_str(" 참고로 양자컴퓨터는 큐비트를 사용해 계산합니다.");
    }
    if rng.chance(RARE_BIGRAM) {
        text.push_str(" 사막에서 낙타를 타 본 적이 있나요?");
    }
}

/// Conversation lengths (even, 2 or more) that add up to `messages`.
fn lengths(rng: &mut Rng, conversations: usize, messages: usize) -> Vec<usize> {
    let pairs = messages / 2;
    let mean = (pairs / conversations).max(1);
    let mut out: Vec<usize> = (0..conversations)
        .map(|_| 1 + rng.below(2 * mean - 1))
        .collect();
    let mut sum: usize = out.iter().sum();
    while sum < pairs {
        let i = rng.below(conversations);
        out[i] += 1;
        sum += 1;
    }
    while sum > pairs {
        let i = rng.below(conversations);
        if out[i] > 1 {
            out[i] -= 1;
            sum -= 1;
        }
    }
    out.into_iter().map(|p| p * 2).collect()
}

/// Unix seconds as RFC 3339 UTC, the form of daehwa's time columns.
pub fn rfc3339(unix: u64) -> String {
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

fn v7(unix: u64, sub: u32) -> String {
    Uuid::new_v7(Timestamp::from_unix(NoContext, unix, sub)).to_string()
}

/// What was loaded, for the report.
pub struct Loaded {
    pub conversations: usize,
    pub messages: usize,
    pub seconds: f64,
    pub db_bytes: u64,
    /// Conversations that contain each search (all its keywords).
    pub matches: BTreeMap<String, usize>,
}

impl Loaded {
    pub fn json(&self) -> Value {
        json!({
            "conversations": self.conversations,
            "messages": self.messages,
            "seconds": (self.seconds * 10.0).round() / 10.0,
            "db_bytes": self.db_bytes,
            "conversations_matching": self.matches,
        })
    }
}

/// Writes `conversations` conversations with `messages` messages in all for
/// `user_id` into the (stopped) server's database, in one transaction.
pub fn load(
    db: &Path,
    user_id: &str,
    model_id: &str,
    conversations: usize,
    messages: usize,
    seed: u64,
) -> Result<Loaded, String> {
    let started = Instant::now();
    let err = |e: rusqlite::Error| format!("loading {}: {e}", db.display());
    let mut conn = Connection::open(db).map_err(err)?;
    // The schema's search triggers call the server's `daehwa_grams()`.
    daehwa_grams::register(&conn).map_err(err)?;
    // The server is stopped: no WAL and no fsync while loading, then back to
    // WAL (the server sets it again anyway).
    conn.execute_batch(
        "PRAGMA journal_mode = DELETE; PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;
         PRAGMA cache_size = -524288; PRAGMA temp_store = MEMORY;",
    )
    .map_err(err)?;

    let mut rng = Rng::new(seed);
    let lens = lengths(&mut rng, conversations, messages);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    // Spread over the past year; each message 20 s after the one before.
    let span = 365 * 86_400u64;
    let step = span / conversations.max(1) as u64;
    let start = now - span - 4 * 3600;
    let searches: Vec<Vec<&str>> = SEARCHES
        .iter()
        .map(|(q, _)| q.split(',').collect())
        .collect();
    let mut matches = vec![0usize; SEARCHES.len()];

    let tx = conn.transaction().map_err(err)?;
    {
        let mut conv_stmt = tx
            .prepare(
                "INSERT INTO conversation (id, user_id, title, model_id, system_prompt, pinned,
                    archived, current_message_id, message_count, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, '', ?5, ?6, ?7, ?8, ?9, ?10)",
            )
            .map_err(err)?;
        let mut msg_stmt = tx
            .prepare(
                "INSERT INTO message (id, conversation_id, parent_id, idx, role, content, model_id,
                    status, prompt_tokens, completion_tokens, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'complete', ?8, ?9, ?10, ?10)",
            )
            .map_err(err)?;
        let mut texts: Vec<String> = Vec::new();
        for (i, &len) in lens.iter().enumerate() {
            let topic = &TOPICS[rng.below(TOPICS.len())];
            let created = start + i as u64 * step;
            let updated = created + 20 * (len as u64 - 1);
            let conv_id = v7(created, rng.below(1_000_000) as u32 * 1000);
            let title = rng.pick(topic.titles).to_string();
            texts.clear();
            texts.push(title.clone());
            let mut ids: Vec<String> = Vec::with_capacity(len);
            for k in 0..len {
                ids.push(v7(created + 20 * k as u64, (k as u32) * 1000));
            }
            let pinned = rng.chance(0.005);
            let archived = rng.chance(0.02);
            conv_stmt
                .execute(params![
                    conv_id,
                    user_id,
                    title,
                    model_id,
                    pinned,
                    archived,
                    ids[len - 1],
                    len as i64,
                    rfc3339(created),
                    rfc3339(updated),
                ])
                .map_err(err)?;
            let mut prompt_tokens = 0u32;
            for k in 0..len {
                let user = k % 2 == 0;
                let content = if user {
                    question(&mut rng, topic)
                } else {
                    answer(&mut rng, topic)
                };
                let tokens = (content.chars().count() / 2) as u32 + 1;
                let (prompt, completion, model) = if user {
                    (0, 0, None)
                } else {
                    (prompt_tokens, tokens, Some(model_id))
                };
                prompt_tokens += tokens;
                let parent = if k == 0 { None } else { Some(&ids[k - 1]) };
                msg_stmt
                    .execute(params![
                        ids[k],
                        conv_id,
                        parent,
                        (k + 1) as i64,
                        if user { "user" } else { "assistant" },
                        content,
                        model,
                        prompt,
                        completion,
                        rfc3339(created + 20 * k as u64),
                    ])
                    .map_err(err)?;
                texts.push(content);
            }
            if !archived {
                for (m, keywords) in searches.iter().enumerate() {
                    if keywords.iter().all(|k| texts.iter().any(|t| t.contains(k))) {
                        matches[m] += 1;
                    }
                }
            }
        }
    }
    tx.commit().map_err(err)?;
    conn.execute_batch("PRAGMA journal_mode = WAL;")
        .map_err(err)?;
    drop(conn);
    let db_bytes = std::fs::metadata(db).map(|m| m.len()).unwrap_or(0);
    Ok(Loaded {
        conversations,
        messages: lens.iter().sum(),
        seconds: started.elapsed().as_secs_f64(),
        db_bytes,
        matches: SEARCHES
            .iter()
            .zip(matches)
            .map(|((q, _), n)| (q.to_string(), n))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_even_and_add_up() {
        let mut rng = Rng::new(1);
        let l = lengths(&mut rng, 100, 10_000);
        assert_eq!(l.iter().sum::<usize>(), 10_000);
        assert!(l.iter().all(|&n| n >= 2 && n % 2 == 0));
    }

    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_704_067_200 + 3661), "2024-01-01T01:01:01Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn the_generator_is_deterministic() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        assert_eq!(answer(&mut a, &TOPICS[0]), answer(&mut b, &TOPICS[0]));
    }
}
