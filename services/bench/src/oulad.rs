//! The course catalogue the generated statements are about: the presentations, assessments
//! and learning resources of the Open University Learning Analytics Dataset (OULAD, CC BY 4.0;
//! Kuzilek, Hlosta, Zdrahal, Scientific Data 4, 170171, 2017,
//! https://doi.org/10.1038/sdata.2017.171), embedded from `data/oulad/`.

use time::{Date, Month};

const COURSES: &str = include_str!("../data/oulad/courses.csv");
const ASSESSMENTS: &str = include_str!("../data/oulad/assessments.csv");
const VLE: &str = include_str!("../data/oulad/vle.csv");

/// Learners registered on each presentation, counted from OULAD's `studentRegistration.csv`.
const LEARNERS: &[(&str, &str, u32)] = &[
    ("AAA", "2013J", 383),
    ("AAA", "2014J", 365),
    ("BBB", "2013B", 1767),
    ("BBB", "2013J", 2237),
    ("BBB", "2014B", 1613),
    ("BBB", "2014J", 2292),
    ("CCC", "2014B", 1936),
    ("CCC", "2014J", 2498),
    ("DDD", "2013B", 1303),
    ("DDD", "2013J", 1938),
    ("DDD", "2014B", 1228),
    ("DDD", "2014J", 1803),
    ("EEE", "2013J", 1052),
    ("EEE", "2014B", 694),
    ("EEE", "2014J", 1188),
    ("FFF", "2013B", 1614),
    ("FFF", "2013J", 2283),
    ("FFF", "2014B", 1500),
    ("FFF", "2014J", 2365),
    ("GGG", "2013J", 952),
    ("GGG", "2014B", 833),
    ("GGG", "2014J", 749),
];

/// One run of a module (`AAA` `2013J`).
#[derive(Debug, Clone)]
pub struct Presentation {
    pub module: String,
    pub code: String,
    /// Length in days.
    pub length_days: u32,
    /// First day: February for `B` presentations, October for `J`.
    pub start: Date,
    pub learners: u32,
    /// Index of the first of this presentation's registrations in [`Catalogue::registrations`].
    pub first_registration: u32,
    pub assessments: Vec<Assessment>,
    pub resources: Vec<Resource>,
}

/// A tutor-marked (TMA), computer-marked (CMA) assessment or an exam.
#[derive(Debug, Clone)]
pub struct Assessment {
    pub id: u32,
    pub kind: String,
    /// Due day relative to the start, when known.
    pub day: Option<i32>,
    pub weight: u32,
}

/// A VLE resource (`resource`, `oucontent`, `quiz`, `forumng`, ...).
#[derive(Debug, Clone)]
pub struct Resource {
    pub site: u32,
    pub kind: String,
}

/// Every presentation, with its assessments and resources.
#[derive(Debug, Clone)]
pub struct Catalogue {
    pub presentations: Vec<Presentation>,
    /// Registrations in all: one per learner and presentation.
    pub registrations: u32,
}

fn rows(csv: &str) -> impl Iterator<Item = Vec<&str>> {
    csv.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split(',').map(|f| f.trim().trim_matches('"')).collect())
}

impl Catalogue {
    /// The embedded OULAD catalogue.
    pub fn oulad() -> Catalogue {
        let mut presentations: Vec<Presentation> = rows(COURSES)
            .map(|f| {
                let (module, code) = (f[0].to_string(), f[1].to_string());
                let learners = LEARNERS
                    .iter()
                    .find(|(m, p, _)| *m == module && *p == code)
                    .map_or(0, |l| l.2);
                Presentation {
                    start: start_of(&code),
                    length_days: f[2].parse().unwrap_or(260),
                    module,
                    code,
                    learners,
                    first_registration: 0,
                    assessments: Vec::new(),
                    resources: Vec::new(),
                }
            })
            .collect();
        let find = |ps: &mut Vec<Presentation>, m: &str, c: &str| {
            ps.iter().position(|p| p.module == m && p.code == c)
        };
        for f in rows(ASSESSMENTS) {
            if let Some(i) = find(&mut presentations, f[0], f[1]) {
                presentations[i].assessments.push(Assessment {
                    id: f[2].parse().unwrap_or(0),
                    kind: f[3].to_string(),
                    day: f[4].parse().ok(),
                    weight: f[5].parse().unwrap_or(0),
                });
            }
        }
        for f in rows(VLE) {
            if let Some(i) = find(&mut presentations, f[1], f[2]) {
                presentations[i].resources.push(Resource {
                    site: f[0].parse().unwrap_or(0),
                    kind: f[3].to_string(),
                });
            }
        }
        presentations.retain(|p| p.learners > 0 && !p.resources.is_empty());
        let mut next = 0;
        for p in &mut presentations {
            p.first_registration = next;
            next += p.learners;
        }
        Catalogue {
            presentations,
            registrations: next,
        }
    }

    /// The presentation of registration `r` (0-based, below [`Catalogue::registrations`]).
    pub fn presentation_of(&self, r: u32) -> &Presentation {
        let i = self
            .presentations
            .partition_point(|p| p.first_registration <= r)
            .saturating_sub(1);
        &self.presentations[i]
    }
}

fn start_of(code: &str) -> Date {
    let year: i32 = code.get(..4).and_then(|y| y.parse().ok()).unwrap_or(2013);
    let month = if code.ends_with('B') {
        Month::February
    } else {
        Month::October
    };
    Date::from_calendar_date(year, month, 1).expect("first of a month")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_whole_catalogue_is_read() {
        let c = Catalogue::oulad();
        assert_eq!(c.presentations.len(), 22);
        assert_eq!(c.registrations, 32_593);
        let resources: usize = c.presentations.iter().map(|p| p.resources.len()).sum();
        assert_eq!(resources, 6_364);
        let assessments: usize = c.presentations.iter().map(|p| p.assessments.len()).sum();
        assert_eq!(assessments, 206);
        let last = c.presentation_of(c.registrations - 1);
        assert_eq!(last.first_registration + last.learners, c.registrations);
        let first = &c.presentations[0];
        assert_eq!(c.presentation_of(0).code, first.code);
        assert_eq!(
            c.presentation_of(first.learners).code,
            c.presentations[1].code
        );
        assert_eq!(c.presentation_of(first.learners - 1).code, first.code);
    }
}
