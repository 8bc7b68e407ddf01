//! Verb and activity-type IRIs (ADL vocabulary and the xAPI video profile).

/// ADL verbs.
pub mod verbs {
    /// Enrolled in / signed up for.
    pub const REGISTERED: &str = "http://adlnet.gov/expapi/verbs/registered";
    /// Finished an activity.
    pub const COMPLETED: &str = "http://adlnet.gov/expapi/verbs/completed";
    /// Passed.
    pub const PASSED: &str = "http://adlnet.gov/expapi/verbs/passed";
    /// Failed.
    pub const FAILED: &str = "http://adlnet.gov/expapi/verbs/failed";
    /// Experienced (viewed, read).
    pub const EXPERIENCED: &str = "http://adlnet.gov/expapi/verbs/experienced";
    /// Attempted.
    pub const ATTEMPTED: &str = "http://adlnet.gov/expapi/verbs/attempted";
    /// Voided a statement.
    pub const VOIDED: &str = "http://adlnet.gov/expapi/verbs/voided";

    /// The English display name of a known verb.
    pub fn display(verb: &str) -> &'static str {
        match verb {
            REGISTERED => "registered",
            COMPLETED => "completed",
            PASSED => "passed",
            FAILED => "failed",
            EXPERIENCED => "experienced",
            ATTEMPTED => "attempted",
            VOIDED => "voided",
            _ => "did",
        }
    }
}

/// Activity types.
pub mod activity_types {
    /// A course.
    pub const COURSE: &str = "http://adlnet.gov/expapi/activities/course";
    /// A module of a course.
    pub const MODULE: &str = "http://adlnet.gov/expapi/activities/module";
    /// A video (xAPI video profile).
    pub const VIDEO: &str = "https://w3id.org/xapi/video/activity-type/video";
    /// A document.
    pub const DOCUMENT: &str = "http://id.tincanapi.com/activitytype/document";
    /// A link.
    pub const LINK: &str = "http://adlnet.gov/expapi/activities/link";
    /// An assessment.
    pub const ASSESSMENT: &str = "http://adlnet.gov/expapi/activities/assessment";
    /// A generic media item.
    pub const MEDIA: &str = "http://adlnet.gov/expapi/activities/media";

    /// The activity type for an LMS item kind.
    pub fn for_item_kind(kind: &str) -> &'static str {
        match kind {
            "video" => VIDEO,
            "document" => DOCUMENT,
            "link" => LINK,
            "quiz" => ASSESSMENT,
            _ => MEDIA,
        }
    }
}
