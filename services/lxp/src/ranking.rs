//! Ranking the feed: content overlap between an item's skills and the person's skill profile,
//! plus a small popularity term; ties go to the newest item.
//!
//! A person's profile is the sum, over the items they engaged with, of the item's evidence
//! weight on each skill it teaches: a completed course counts 1.0 per skill, a registration
//! 0.3, any other activity 0.1. Each item counts once, with its strongest evidence.

use std::collections::{BTreeMap, HashSet};

use uuid::Uuid;

/// Weight of the popularity term: `POPULARITY_WEIGHT * ln(1 + popularity)`.
pub const POPULARITY_WEIGHT: f64 = 0.1;

/// How strongly an interaction says a person has a skill, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Evidence {
    /// Anything else: an item of a course, an attempt, an answer.
    Activity,
    /// Registered for the item (enrolled in the course).
    Registered,
    /// Completed the item.
    Completed,
}

impl Evidence {
    /// Weight per skill the item teaches.
    pub fn weight(self) -> f64 {
        match self {
            Evidence::Completed => 1.0,
            Evidence::Registered => 0.3,
            Evidence::Activity => 0.1,
        }
    }

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Evidence::Completed => "completed",
            Evidence::Registered => "registered",
            Evidence::Activity => "activity",
        }
    }

    /// From the stored name; unknown names are plain activity.
    pub fn parse(s: &str) -> Evidence {
        match s {
            "completed" => Evidence::Completed,
            "registered" => Evidence::Registered,
            _ => Evidence::Activity,
        }
    }
}

/// An item the person engaged with, and how.
#[derive(Debug, Clone)]
pub struct Engagement<'a> {
    /// The item.
    pub item_id: Uuid,
    /// Its title, for reasons.
    pub title: &'a str,
    /// Skills it teaches.
    pub skills: &'a [String],
    /// The strongest evidence on it.
    pub evidence: Evidence,
}

/// An item that may be recommended.
#[derive(Debug, Clone)]
pub struct Candidate<'a> {
    /// The item.
    pub item_id: Uuid,
    /// Skills it teaches.
    pub skills: &'a [String],
    /// Distinct people who registered for or completed it.
    pub popularity: u64,
    /// Publication time (any monotonic unit); newer wins ties.
    pub published: i64,
}

/// A scored candidate.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranked {
    /// Index of the candidate in the input.
    pub index: usize,
    /// Higher first.
    pub score: f64,
    /// The candidate's skills found in the profile, in the candidate's order.
    pub matched_skills: Vec<String>,
    /// Why it is recommended, for people.
    pub reason: String,
}

/// The skill profile: skill -> summed evidence weight.
pub fn profile(engagements: &[Engagement<'_>]) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for e in engagements {
        for skill in e.skills {
            *out.entry(skill.clone()).or_insert(0.0) += e.evidence.weight();
        }
    }
    out
}

/// Scores and orders `candidates` for a person with `engagements`. A candidate's score leaves
/// out the evidence on the candidate itself, so an item in progress is not recommended for
/// being in progress.
pub fn rank(engagements: &[Engagement<'_>], candidates: &[Candidate<'_>]) -> Vec<Ranked> {
    let mut ranked: Vec<Ranked> = candidates
        .iter()
        .enumerate()
        .map(|(index, c)| score(index, c, engagements))
        .collect();
    ranked.sort_by(|a, b| {
        let (ca, cb) = (&candidates[a.index], &candidates[b.index]);
        b.score
            .total_cmp(&a.score)
            .then(cb.published.cmp(&ca.published))
            .then(cb.item_id.cmp(&ca.item_id))
    });
    ranked
}

fn score(index: usize, c: &Candidate<'_>, engagements: &[Engagement<'_>]) -> Ranked {
    let others: Vec<&Engagement<'_>> = engagements
        .iter()
        .filter(|e| e.item_id != c.item_id)
        .collect();
    let mut overlap = 0.0;
    let mut matched_skills = Vec::new();
    for skill in unique(c.skills) {
        let weight: f64 = others
            .iter()
            .filter(|e| e.skills.contains(skill))
            .map(|e| e.evidence.weight())
            .sum();
        if weight > 0.0 {
            overlap += weight;
            matched_skills.push(skill.clone());
        }
    }
    let popularity = POPULARITY_WEIGHT * (c.popularity as f64).ln_1p();
    let reason = if matched_skills.is_empty() {
        popular_reason(c.popularity)
    } else {
        builds_on_reason(&matched_skills, &others)
    };
    Ranked {
        index,
        score: overlap + popularity,
        matched_skills,
        reason,
    }
}

fn unique(skills: &[String]) -> impl Iterator<Item = &String> {
    let mut seen = HashSet::new();
    skills.iter().filter(move |s| seen.insert(s.as_str()))
}

/// "Builds on sql, data-analysis from SQL Fundamentals": the matched skills and the (at most
/// two) strongest items the person learned them from.
fn builds_on_reason(matched: &[String], others: &[&Engagement<'_>]) -> String {
    let mut sources: Vec<&&Engagement<'_>> = others
        .iter()
        .filter(|e| e.skills.iter().any(|s| matched.contains(s)))
        .collect();
    sources.sort_by(|a, b| {
        b.evidence
            .cmp(&a.evidence)
            .then_with(|| a.title.cmp(b.title))
    });
    let titles: Vec<&str> = sources.iter().take(2).map(|e| e.title).collect();
    format!(
        "Builds on {} from {}",
        matched.join(", "),
        titles.join(" and ")
    )
}

fn popular_reason(popularity: u64) -> String {
    match popularity {
        0 => "New in the catalogue".to_string(),
        1 => "Taken by 1 colleague".to_string(),
        n => format!("Popular: taken by {n} colleagues"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skills(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn ranks_items_sharing_skills_with_completed_courses_first() {
        let (sql_fund, adv_sql, dataviz, negotiation) = (
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
        );
        let fund_skills = skills(&["sql", "data-analysis"]);
        let (adv, viz, neg) = (
            skills(&["sql"]),
            skills(&["data-analysis"]),
            skills(&["negotiation"]),
        );
        let engagements = [Engagement {
            item_id: sql_fund,
            title: "SQL Fundamentals",
            skills: &fund_skills,
            evidence: Evidence::Completed,
        }];
        let candidates = [
            // Very popular and newest, but unrelated.
            Candidate {
                item_id: negotiation,
                skills: &neg,
                popularity: 50,
                published: 4,
            },
            Candidate {
                item_id: dataviz,
                skills: &viz,
                popularity: 0,
                published: 2,
            },
            Candidate {
                item_id: adv_sql,
                skills: &adv,
                popularity: 1,
                published: 1,
            },
        ];
        let ranked = rank(&engagements, &candidates);
        let order: Vec<Uuid> = ranked.iter().map(|r| candidates[r.index].item_id).collect();
        // 1.0 + 0.1 ln 2 > 1.0 > 0.1 ln 51
        assert_eq!(order, vec![adv_sql, dataviz, negotiation]);
        assert_eq!(ranked[0].matched_skills, vec!["sql"]);
        assert_eq!(ranked[0].reason, "Builds on sql from SQL Fundamentals");
        assert!((ranked[1].score - 1.0).abs() < 1e-9);
        assert!(ranked[2].matched_skills.is_empty());
        assert_eq!(ranked[2].reason, "Popular: taken by 50 colleagues");

        let p = profile(&engagements);
        assert_eq!(p.get("sql"), Some(&1.0));
        assert_eq!(p.get("data-analysis"), Some(&1.0));
    }

    #[test]
    fn evidence_weights_add_up_and_own_evidence_is_left_out() {
        let (a, b, c) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let sql = skills(&["sql"]);
        let both = skills(&["sql", "python"]);
        let engagements = [
            Engagement {
                item_id: a,
                title: "A",
                skills: &sql,
                evidence: Evidence::Registered,
            },
            Engagement {
                item_id: b,
                title: "B",
                skills: &both,
                evidence: Evidence::Activity,
            },
        ];
        let p = profile(&engagements);
        assert!((p["sql"] - 0.4).abs() < 1e-9);
        assert!((p["python"] - 0.1).abs() < 1e-9);

        // `b` is in progress: only `a` speaks for it.
        let candidates = [
            Candidate {
                item_id: b,
                skills: &both,
                popularity: 0,
                published: 1,
            },
            Candidate {
                item_id: c,
                skills: &both,
                popularity: 0,
                published: 1,
            },
        ];
        let ranked = rank(&engagements, &candidates);
        assert_eq!(candidates[ranked[0].index].item_id, c);
        assert!((ranked[0].score - 0.5).abs() < 1e-9);
        assert_eq!(ranked[0].matched_skills, vec!["sql", "python"]);
        assert_eq!(ranked[0].reason, "Builds on sql, python from A and B");
        assert!((ranked[1].score - 0.3).abs() < 1e-9);
        assert_eq!(ranked[1].reason, "Builds on sql from A");
    }

    #[test]
    fn without_a_profile_the_most_popular_come_first_then_the_newest() {
        let ids: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
        let none: Vec<String> = Vec::new();
        let candidates = [
            Candidate {
                item_id: ids[0],
                skills: &none,
                popularity: 0,
                published: 1,
            },
            Candidate {
                item_id: ids[1],
                skills: &none,
                popularity: 0,
                published: 2,
            },
            Candidate {
                item_id: ids[2],
                skills: &none,
                popularity: 3,
                published: 0,
            },
        ];
        let ranked = rank(&[], &candidates);
        let order: Vec<Uuid> = ranked.iter().map(|r| candidates[r.index].item_id).collect();
        assert_eq!(order, vec![ids[2], ids[1], ids[0]]);
        assert_eq!(ranked[1].reason, "New in the catalogue");
    }
}
