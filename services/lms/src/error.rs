//! The LMS's error type, mapped once to the platform's error model (and so to HTTP and gRPC).

use lyceum_server::ApiError;
use uuid::Uuid;

/// Everything that can go wrong in the LMS.
#[derive(Debug, thiserror::Error)]
pub enum LmsError {
    /// Bad input, auth failure or another already-classified error.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// Refused by identity checks.
    #[error(transparent)]
    Auth(#[from] lyceum_auth::AuthError),
    /// The e-mail belongs to someone else.
    #[error("a person with e-mail {0} already exists")]
    EmailTaken(String),
    /// Unknown person.
    #[error("person {0} not found")]
    PersonNotFound(Uuid),
    /// Unknown course (or a draft the caller may not see).
    #[error("course {0} not found")]
    CourseNotFound(Uuid),
    /// Unknown enrolment (or someone else's).
    #[error("enrolment {0} not found")]
    EnrollmentNotFound(Uuid),
    /// The item is not part of the enrolment's course.
    #[error("item {item} is not part of course {course}")]
    ItemNotInCourse {
        /// The item.
        item: Uuid,
        /// The course.
        course: Uuid,
    },
    /// Enrolling in a draft.
    #[error("course {0} is not published")]
    NotPublished(Uuid),
    /// Enrolling twice.
    #[error("already enrolled in course {0}")]
    AlreadyEnrolled(Uuid),
    /// Database failure.
    #[error(transparent)]
    Store(#[from] lyceum_store::StoreError),
    /// Listener failure.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl From<sqlx::Error> for LmsError {
    fn from(e: sqlx::Error) -> Self {
        LmsError::Store(e.into())
    }
}

impl From<LmsError> for ApiError {
    fn from(e: LmsError) -> Self {
        let message = e.to_string();
        match e {
            LmsError::Api(a) => a,
            LmsError::Auth(a) => a.into(),
            LmsError::EmailTaken(_) | LmsError::AlreadyEnrolled(_) => {
                ApiError::already_exists(message)
            }
            LmsError::PersonNotFound(_)
            | LmsError::CourseNotFound(_)
            | LmsError::EnrollmentNotFound(_) => {
                ApiError::new(lyceum_server::ErrorKind::NotFound, message)
            }
            LmsError::ItemNotInCourse { .. } => ApiError::invalid("item_id", message),
            LmsError::NotPublished(_) => ApiError::conflict(message),
            LmsError::Store(s) => s.into(),
            LmsError::Io(io) => ApiError::internal(io),
        }
    }
}

impl From<LmsError> for tonic::Status {
    fn from(e: LmsError) -> Self {
        ApiError::from(e).into()
    }
}

/// Result of LMS operations.
pub type Result<T, E = LmsError> = std::result::Result<T, E>;
