//! Realistic xAPI statements, a pure function of (seed, index): learners of the OULAD course
//! presentations opening resources, taking quizzes, posting in forums, submitting assessments
//! and completing courses. Actors have an `account` (platform people) or an `mbox`; every
//! statement has a registration and parent/grouping/category context activities, most carry
//! an id, a result with a duration and a score where there is one.
//!
//! Activity is skewed: a few registrations produce many statements and most produce few, as
//! in real VLE logs, so agent and registration queries see both full and short pages.

use serde_json::{Value, json};
use time::{Duration, OffsetDateTime, UtcOffset};
use uuid::Uuid;

use crate::oulad::{Catalogue, Presentation};

/// Root of the generated activity ids.
pub const ACTIVITY_ROOT: &str = "https://vle.example.ac.uk";

const EXPERIENCED: &str = "http://adlnet.gov/expapi/verbs/experienced";
const ANSWERED: &str = "http://adlnet.gov/expapi/verbs/answered";
const COMMENTED: &str = "http://adlnet.gov/expapi/verbs/commented";
const INTERACTED: &str = "http://adlnet.gov/expapi/verbs/interacted";
const ATTENDED: &str = "http://adlnet.gov/expapi/verbs/attended";
const RESPONDED: &str = "http://adlnet.gov/expapi/verbs/responded";
const LAUNCHED: &str = "http://adlnet.gov/expapi/verbs/launched";
const REGISTERED: &str = "http://adlnet.gov/expapi/verbs/registered";
const COMPLETED: &str = "http://adlnet.gov/expapi/verbs/completed";
const PASSED: &str = "http://adlnet.gov/expapi/verbs/passed";
const FAILED: &str = "http://adlnet.gov/expapi/verbs/failed";
const VOIDED: &str = "http://adlnet.gov/expapi/verbs/voided";

/// A small, fast, seedable generator (SplitMix64); good enough for synthetic data.
#[derive(Debug, Clone)]
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

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [0, n); 0 when n is 0.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
        }
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// Makes statements.
#[derive(Debug, Clone)]
pub struct Generator {
    catalogue: Catalogue,
    seed: u64,
    /// `account.homePage` of platform people.
    home_page: String,
}

/// What a query can filter a statement by.
#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    /// The actor as an `agent` query parameter (identifier only).
    pub agent: Value,
    pub verb: String,
    pub object: String,
    /// The presentation (context parent) activity.
    pub parent: String,
    pub registration: Uuid,
}

impl Generator {
    pub fn new(seed: u64, home_page: &str) -> Generator {
        Generator {
            catalogue: Catalogue::oulad(),
            seed,
            home_page: home_page.trim_end_matches('/').to_string(),
        }
    }

    fn rng(&self, stream: u64, n: u64) -> Rng {
        let mut r = Rng::new(self.seed ^ stream.wrapping_mul(0xD6E8_FEB8_6659_FD93));
        r.0 ^= n.wrapping_mul(0xA076_1D64_78BD_642F);
        r.next_u64();
        r
    }

    /// A stable UUID (version 4 bits) for `(tag, n)`.
    pub fn uuid(&self, tag: u64, n: u64) -> Uuid {
        let mut r = self.rng(tag, n);
        let hi = r.next_u64();
        let lo = r.next_u64();
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&hi.to_be_bytes());
        bytes[8..].copy_from_slice(&lo.to_be_bytes());
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }

    /// Which registration statement `i` belongs to: skewed (density ~ 1/sqrt(rank)), then
    /// spread over the presentations by a fixed permutation.
    fn registration_of(&self, rng: &mut Rng) -> u32 {
        let n = u64::from(self.catalogue.registrations);
        let u = rng.unit();
        let rank = ((u * u) * n as f64) as u64 % n;
        // 7919 is prime and does not divide 32,593 (= 11 x 2963): a permutation.
        ((rank * 7919 + 17) % n) as u32
    }

    /// The learner of registration `r` as an actor: two in five by e-mail, the others as
    /// platform accounts.
    pub fn actor(&self, r: u32) -> Value {
        let name = format!("Learner {r:05}");
        if r % 5 >= 3 {
            json!({"objectType": "Agent", "name": name, "mbox": format!("mailto:learner{r:05}@example.org")})
        } else {
            json!({
                "objectType": "Agent",
                "name": name,
                "account": {"homePage": self.home_page, "name": self.uuid(1, u64::from(r)).to_string()},
            })
        }
    }

    /// Registration `r`'s UUID.
    pub fn registration(&self, r: u32) -> Uuid {
        self.uuid(2, u64::from(r))
    }

    /// Statement `i`.
    pub fn statement(&self, i: u64) -> Value {
        let mut rng = self.rng(3, i);
        let r = self.registration_of(&mut rng);
        let p = self.catalogue.presentation_of(r);
        let kind = rng.unit();
        let reference = if kind >= 0.993 {
            self.reference(i, kind >= 0.998, &mut rng)
        } else {
            None
        };
        let refers = reference.is_some();
        let (verb, object, result, day, instructor) = if let Some(r) = reference {
            (
                r.0,
                r.1,
                None,
                rng.below(u64::from(p.length_days)) as i32,
                false,
            )
        } else if kind < 0.78 {
            self.vle(p, &mut rng)
        } else if kind < 0.90 && !p.assessments.is_empty() {
            self.assessment(p, &mut rng)
        } else {
            self.course(p, &mut rng)
        };
        let mut context = json!({
            "registration": self.registration(r).to_string(),
            "platform": "Lyceum VLE",
            "language": "en-GB",
            "contextActivities": {
                "grouping": [{"id": format!("{ACTIVITY_ROOT}/modules/{}", p.module), "objectType": "Activity"}],
                "category": [{
                    "id": format!("{ACTIVITY_ROOT}/profiles/oulad"),
                    "definition": {"type": "http://adlnet.gov/expapi/activities/profile"},
                }],
            },
            "extensions": {format!("{ACTIVITY_ROOT}/xapi/week"): day.div_euclid(7)},
        });
        if object["id"] != presentation_id(p) {
            context["contextActivities"]["parent"] = json!([{
                "id": presentation_id(p),
                "objectType": "Activity",
                "definition": {
                    "type": "http://adlnet.gov/expapi/activities/course",
                    "name": {"en-GB": format!("{} {}", p.module, p.code)},
                },
            }]);
        }
        if refers {
            // `platform` (and `revision`) only go with Activity objects.
            if let Some(c) = context.as_object_mut() {
                c.remove("platform");
            }
        }
        if instructor {
            context["instructor"] = json!({
                "objectType": "Agent",
                "name": format!("Tutor of {} {}", p.module, p.code),
                "mbox": format!("mailto:tutor-{}-{}@example.ac.uk", p.module.to_lowercase(), p.code.to_lowercase()),
            });
        }
        let mut s = json!({
            "actor": self.actor(r),
            "verb": {"id": verb, "display": {"en-US": verb.rsplit('/').next().unwrap_or(verb)}},
            "object": object,
            "context": context,
            "timestamp": timestamp(p, day, &mut rng),
        });
        if let Some(result) = result {
            s["result"] = result;
        }
        if self.named(i) {
            s["id"] = json!(self.uuid(4, i).to_string());
        }
        s
    }

    /// Whether statement `i` carries its own id: most clients name their statements, the LRS
    /// names the others.
    fn named(&self, i: u64) -> bool {
        self.rng(5, i).unit() < 0.85
    }

    /// A statement about an earlier named statement (0.7%): a retraction (voiding, 0.2%) or a
    /// comment on it. `None` when no recent statement has an id of its own.
    fn reference(&self, i: u64, voiding: bool, rng: &mut Rng) -> Option<(&'static str, Value)> {
        let target = (0..8)
            .map(|_| i.checked_sub(1 + rng.below(5_000.min(i.max(1))))?.into())
            .find(|j: &Option<u64>| j.is_some_and(|j| self.named(j)))??;
        let object = json!({"objectType": "StatementRef", "id": self.uuid(4, target).to_string()});
        Some((if voiding { VOIDED } else { COMMENTED }, object))
    }

    /// A VLE click: which resource, what the learner did with it.
    fn vle(
        &self,
        p: &Presentation,
        rng: &mut Rng,
    ) -> (&'static str, Value, Option<Value>, i32, bool) {
        let res = rng.pick(&p.resources);
        let clicks = 1 + rng.below(12) as u32;
        let seconds = clicks * (20 + rng.below(90) as u32);
        let (verb, kind) = match res.kind.as_str() {
            "quiz" | "externalquiz" | "repeatactivity" => (
                ANSWERED,
                "http://adlnet.gov/expapi/activities/cmi.interaction",
            ),
            "forumng" => (COMMENTED, "http://id.tincanapi.com/activitytype/discussion"),
            "ouwiki" | "glossary" | "dataplus" => {
                (INTERACTED, "http://id.tincanapi.com/activitytype/resource")
            }
            "oucollaborate" | "ouelluminate" => {
                (ATTENDED, "http://id.tincanapi.com/activitytype/meeting")
            }
            "questionnaire" => (RESPONDED, "http://id.tincanapi.com/activitytype/survey"),
            "oucontent" => (EXPERIENCED, "http://adlnet.gov/expapi/activities/lesson"),
            "url" => (EXPERIENCED, "http://adlnet.gov/expapi/activities/link"),
            "resource" => (EXPERIENCED, "http://id.tincanapi.com/activitytype/resource"),
            _ => (EXPERIENCED, "http://activitystrea.ms/schema/1.0/page"),
        };
        let mut definition = json!({
            "type": kind,
            "name": {"en-GB": format!("{} {} ({} {})", res.kind, res.site, p.module, p.code)},
        });
        let mut result = json!({
            "duration": duration(seconds),
            "extensions": {format!("{ACTIVITY_ROOT}/xapi/clicks"): clicks},
        });
        match verb {
            ANSWERED => {
                definition["interactionType"] = json!("choice");
                definition["correctResponsesPattern"] = json!(["b"]);
                definition["choices"] = json!([
                    {"id": "a", "description": {"en-GB": "Never"}},
                    {"id": "b", "description": {"en-GB": "Sometimes"}},
                    {"id": "c", "description": {"en-GB": "Always"}},
                ]);
                let answer = *rng.pick(&["a", "b", "b", "c"]);
                result["response"] = json!(answer);
                result["success"] = json!(answer == "b");
            }
            COMMENTED => {
                result["response"] = json!(format!(
                    "Reply {} to the week's discussion: the reading helped with the assignment.",
                    rng.below(10_000)
                ));
            }
            _ => {
                if rng.unit() < 0.3 {
                    result["completion"] = json!(true);
                }
            }
        }
        let object = json!({
            "objectType": "Activity",
            "id": format!("{ACTIVITY_ROOT}/vle/{}", res.site),
            "definition": definition,
        });
        let day = rng.below(u64::from(p.length_days)) as i32;
        (verb, object, Some(result), day, false)
    }

    /// An assessment submission with its mark.
    fn assessment(
        &self,
        p: &Presentation,
        rng: &mut Rng,
    ) -> (&'static str, Value, Option<Value>, i32, bool) {
        let a = rng.pick(&p.assessments);
        let raw = (25.0 + 75.0 * (rng.unit() + rng.unit()) / 2.0)
            .round()
            .min(100.0);
        let passed = raw >= 40.0;
        let object = json!({
            "objectType": "Activity",
            "id": format!("{ACTIVITY_ROOT}/assessments/{}", a.id),
            "definition": {
                "type": "http://adlnet.gov/expapi/activities/assessment",
                "name": {"en-GB": format!("{} {} ({} {})", a.kind, a.id, p.module, p.code)},
                "description": {"en-GB": format!("{} worth {}% of the module mark", a.kind, a.weight)},
            },
        });
        let result = json!({
            "score": {"scaled": raw / 100.0, "raw": raw, "min": 0, "max": 100},
            "success": passed,
            "completion": true,
            "duration": duration(600 + rng.below(7200) as u32),
        });
        let due = a.day.unwrap_or(p.length_days as i32 - 10);
        let day = (due - rng.below(7) as i32).clamp(0, p.length_days as i32);
        (
            if passed { PASSED } else { FAILED },
            object,
            Some(result),
            day,
            a.kind == "TMA",
        )
    }

    /// The course itself: registered, launched or completed.
    fn course(
        &self,
        p: &Presentation,
        rng: &mut Rng,
    ) -> (&'static str, Value, Option<Value>, i32, bool) {
        let object = json!({
            "objectType": "Activity",
            "id": presentation_id(p),
            "definition": {
                "type": "http://adlnet.gov/expapi/activities/course",
                "name": {"en-GB": format!("{} {}", p.module, p.code)},
                "description": {"en-GB": format!("Module {} presented from {}", p.module, p.start)},
                "moreInfo": format!("{ACTIVITY_ROOT}/modules/{}/about", p.module),
            },
        });
        let u = rng.unit();
        if u < 0.15 {
            (REGISTERED, object, None, -(rng.below(60) as i32), false)
        } else if u < 0.85 {
            let day = rng.below(u64::from(p.length_days)) as i32;
            (LAUNCHED, object, None, day, false)
        } else {
            let result = json!({"completion": true, "success": rng.unit() < 0.7, "duration": duration(3600 * (20 + rng.below(200) as u32))});
            (COMPLETED, object, Some(result), p.length_days as i32, false)
        }
    }

    /// What a query can filter statement `i` by.
    pub fn facts(&self, i: u64) -> Facts {
        let s = self.statement(i);
        let mut agent = s["actor"].clone();
        if let Some(map) = agent.as_object_mut() {
            map.remove("name");
        }
        let parent = s["context"]["contextActivities"]["parent"][0]["id"]
            .as_str()
            .or(s["object"]["id"].as_str())
            .unwrap_or_default()
            .to_string();
        let object = match s["object"]["objectType"].as_str() {
            Some("StatementRef") => parent.clone(),
            _ => s["object"]["id"].as_str().unwrap_or_default().to_string(),
        };
        Facts {
            agent,
            verb: s["verb"]["id"].as_str().unwrap_or_default().to_string(),
            object,
            parent,
            registration: s["context"]["registration"]
                .as_str()
                .and_then(|r| r.parse().ok())
                .unwrap_or_default(),
        }
    }

    /// Statements `first .. first + count` as a JSON array.
    pub fn batch_body(&self, first: u64, count: u64) -> Vec<u8> {
        let list: Vec<Value> = (first..first + count).map(|i| self.statement(i)).collect();
        serde_json::to_vec(&list).expect("statements serialize")
    }

    /// Statement `i` as a JSON object.
    pub fn single_body(&self, i: u64) -> Vec<u8> {
        serde_json::to_vec(&self.statement(i)).expect("statements serialize")
    }
}

/// The presentation as an activity id.
pub fn presentation_id(p: &Presentation) -> String {
    format!("{ACTIVITY_ROOT}/presentations/{}-{}", p.module, p.code)
}

/// ISO 8601 duration of whole seconds.
fn duration(seconds: u32) -> String {
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    match (h, m) {
        (0, 0) => format!("PT{s}S"),
        (0, _) => format!("PT{m}M{s}S"),
        _ => format!("PT{h}H{m}M{s}S"),
    }
}

/// Day `day` of the presentation, in the daytime, in UTC or UK summer time, to the millisecond.
fn timestamp(p: &Presentation, day: i32, rng: &mut Rng) -> String {
    let start = p.start.midnight().assume_utc();
    let t: OffsetDateTime = start
        + Duration::days(i64::from(day))
        + Duration::seconds(8 * 3600 + rng.below(15 * 3600) as i64)
        + Duration::milliseconds(rng.below(1000) as i64);
    let offset = if rng.unit() < 0.3 {
        UtcOffset::from_hms(1, 0, 0).expect("valid offset")
    } else {
        UtcOffset::UTC
    };
    let t = t.to_offset(offset);
    let (y, mo, d) = (t.year(), u8::from(t.month()), t.day());
    let (h, mi, s, ms) = (t.hour(), t.minute(), t.second(), t.millisecond());
    let zone = if offset == UtcOffset::UTC {
        "Z".to_string()
    } else {
        "+01:00".to_string()
    };
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}{zone}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generator() -> Generator {
        Generator::new(42, "http://127.0.0.1:8080")
    }

    #[test]
    fn statements_are_valid_xapi() {
        let g = generator();
        for i in 0..5_000 {
            let s = g.statement(i);
            if let Err(e) = lyceum_xapi::validate::statement(&s) {
                panic!("statement {i} is invalid ({e}): {s:#}");
            }
        }
    }

    #[test]
    fn statements_are_a_function_of_seed_and_index() {
        let (a, b) = (generator(), generator());
        assert_eq!(a.statement(7), b.statement(7));
        assert_ne!(a.statement(7), a.statement(8));
        assert_ne!(
            a.statement(7),
            Generator::new(43, "http://127.0.0.1:8080").statement(7)
        );
        assert_eq!(a.facts(9), b.facts(9));
    }

    #[test]
    fn statements_vary_like_learning_records() {
        let g = generator();
        let mut verbs = std::collections::BTreeSet::new();
        let (mut mbox, mut account, mut ids, mut scores, mut regs) =
            (0, 0, 0, 0, std::collections::HashMap::new());
        let n = 20_000;
        for i in 0..n {
            let s = g.statement(i);
            verbs.insert(s["verb"]["id"].as_str().unwrap().to_string());
            mbox += usize::from(s["actor"].get("mbox").is_some());
            account += usize::from(s["actor"].get("account").is_some());
            ids += usize::from(s.get("id").is_some());
            scores += usize::from(s["result"].get("score").is_some());
            *regs
                .entry(s["context"]["registration"].as_str().unwrap().to_string())
                .or_insert(0u32) += 1;
        }
        assert!(verbs.len() >= 8, "{verbs:?}");
        assert!(mbox > n as usize / 5 && account > n as usize / 3);
        assert!(ids > n as usize * 3 / 4 && ids < n as usize);
        assert!(scores > n as usize / 20);
        let busiest = regs.values().max().copied().unwrap_or(0);
        assert!(
            busiest > 100,
            "the busiest registration has {busiest} statements"
        );
        let bodies = g.batch_body(0, 100);
        assert!(bodies.len() > 100 * 600, "{} bytes", bodies.len());
    }

    #[test]
    fn some_statements_refer_to_earlier_named_ones() {
        let g = generator();
        let (mut voiding, mut comments) = (0, 0);
        for i in 0..20_000 {
            let s = g.statement(i);
            if s["object"]["objectType"] == "StatementRef" {
                let target = s["object"]["id"].as_str().unwrap();
                let j = (i.saturating_sub(5_000)..i)
                    .find(|&j| g.named(j) && g.uuid(4, j).to_string() == target)
                    .unwrap_or_else(|| panic!("statement {i} refers to no earlier statement"));
                assert!(j < i);
                if s["verb"]["id"] == VOIDED {
                    voiding += 1;
                } else {
                    comments += 1;
                }
                assert!(g.facts(i).object.starts_with(ACTIVITY_ROOT));
            }
        }
        assert!(
            voiding > 10 && comments > 40,
            "{voiding} voiding, {comments} comments"
        );
    }

    #[test]
    fn facts_match_the_statement() {
        let g = generator();
        let f = g.facts(3);
        let s = g.statement(3);
        assert_eq!(f.verb, s["verb"]["id"]);
        assert!(f.agent.get("name").is_none());
        assert!(f.parent.starts_with(ACTIVITY_ROOT));
    }

    #[test]
    fn durations_and_timestamps() {
        assert_eq!(duration(59), "PT59S");
        assert_eq!(duration(61), "PT1M1S");
        assert_eq!(duration(3661), "PT1H1M1S");
        let c = Catalogue::oulad();
        let t = timestamp(&c.presentations[0], 3, &mut Rng::new(1));
        assert!(lyceum_xapi::validate::parse_timestamp(&t).is_some(), "{t}");
    }
}
