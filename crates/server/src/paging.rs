//! Keyset pagination: a page size and an opaque cursor holding the last row's sort key.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::ApiError;

/// Default page size.
pub const DEFAULT_PAGE_SIZE: u32 = 50;
/// Largest page size.
pub const MAX_PAGE_SIZE: u32 = 500;

/// A decoded page request.
#[derive(Debug, Clone)]
pub struct Page<K> {
    /// Rows to return.
    pub size: u32,
    /// Sort key of the last row of the previous page.
    pub after: Option<K>,
}

impl<K: DeserializeOwned> Page<K> {
    /// From a requested size (0 = default, capped) and a cursor (empty = first page).
    pub fn parse(size: u32, token: &str) -> Result<Self, ApiError> {
        let size = if size == 0 {
            DEFAULT_PAGE_SIZE
        } else {
            size.min(MAX_PAGE_SIZE)
        };
        let after = if token.is_empty() {
            None
        } else {
            let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| {
                ApiError::invalid("page_token", "is not a token this service issued")
            })?;
            Some(serde_json::from_slice(&bytes).map_err(|_| {
                ApiError::invalid("page_token", "is not a token this service issued")
            })?)
        };
        Ok(Page { size, after })
    }

    /// The SQL `LIMIT`: one more than the page, to learn whether another page follows.
    pub fn fetch_limit(&self) -> i64 {
        i64::from(self.size) + 1
    }
}

/// Trims rows fetched with [`Page::fetch_limit`] to the page and makes the next cursor.
pub fn finish<T, K: Serialize>(
    mut rows: Vec<T>,
    page_size: u32,
    key: impl Fn(&T) -> K,
) -> (Vec<T>, String) {
    if rows.len() > page_size as usize {
        rows.truncate(page_size as usize);
        let next = rows.last().map(|r| encode(&key(r))).unwrap_or_default();
        (rows, next)
    } else {
        (rows, String::new())
    }
}

fn encode<K: Serialize>(key: &K) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(key).expect("cursor keys serialize"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let (rows, next) = finish(vec![1, 2, 3], 2, |r| ("k".to_string(), *r));
        assert_eq!(rows, vec![1, 2]);
        let p: Page<(String, i32)> = Page::parse(2, &next).unwrap();
        assert_eq!(p.after, Some(("k".into(), 2)));
        assert!(Page::<(String, i32)>::parse(2, "!!").is_err());
        assert_eq!(Page::<i32>::parse(0, "").unwrap().size, DEFAULT_PAGE_SIZE);
        assert_eq!(Page::<i32>::parse(10_000, "").unwrap().size, MAX_PAGE_SIZE);
        let (rows, next) = finish(vec![1], 2, |r| *r);
        assert_eq!((rows.len(), next.as_str()), (1, ""));
    }
}
