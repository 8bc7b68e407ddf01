//! NATS subject matching, used by the in-process bus to apply consumer filters.

/// Whether `subject` matches `filter`: tokens split on `.`, `*` matches one token and `>` (last)
/// matches one or more.
pub fn matches(filter: &str, subject: &str) -> bool {
    let mut subject_tokens = subject.split('.');
    for f in filter.split('.') {
        match (f, subject_tokens.next()) {
            (">", Some(_)) => return true,
            ("*", Some(_)) => {}
            (f, Some(s)) if f == s => {}
            _ => return false,
        }
    }
    subject_tokens.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn wildcards_follow_nats_rules() {
        assert!(matches("lyceum.>", "lyceum.lms.course.published"));
        assert!(!matches("lyceum.>", "lyceum"));
        assert!(matches(
            "lyceum.lms.course.*",
            "lyceum.lms.course.published"
        ));
        assert!(!matches(
            "lyceum.lms.course.*",
            "lyceum.lms.course.published.x"
        ));
        assert!(matches(
            "lyceum.*.course.published",
            "lyceum.lms.course.published"
        ));
        assert!(matches("lyceum.xapi.submit", "lyceum.xapi.submit"));
        assert!(!matches("lyceum.xapi.submit", "lyceum.xapi.submitted"));
        assert!(!matches("lyceum.xapi", "lyceum.xapi.submit"));
    }
}
