//! `lyceum probe URL`: an HTTP health check for images without a shell or HTTP client
//! (Docker / compose `healthcheck`, exec probes). Plain HTTP only, which is what a service's
//! own `/healthz` and `/readyz` speak on the pod or container network.

use std::time::Duration;

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The parts of an `http://host:port/path` URL a probe needs.
#[derive(Debug, PartialEq, Eq)]
struct Target<'a> {
    authority: &'a str,
    path: &'a str,
}

fn parse(url: &str) -> anyhow::Result<Target<'_>> {
    let Some(rest) = url.strip_prefix("http://") else {
        bail!("probe URL must start with http:// (got {url:?})");
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() {
        bail!("probe URL has no host (got {url:?})");
    }
    Ok(Target { authority, path })
}

/// GETs `url` and returns its status code; an error when it cannot be reached, answers with
/// something other than HTTP, or takes longer than `timeout`.
pub async fn probe(url: &str, timeout: Duration) -> anyhow::Result<u16> {
    let target = parse(url)?;
    tokio::time::timeout(timeout, get(&target))
        .await
        .with_context(|| format!("{url} did not answer within {timeout:?}"))?
        .with_context(|| format!("cannot GET {url}"))
}

async fn get(target: &Target<'_>) -> anyhow::Result<u16> {
    let addr = if target.authority.contains(':') {
        target.authority.to_string()
    } else {
        format!("{}:80", target.authority)
    };
    let mut stream = TcpStream::connect(&addr).await?;
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: lyceum-probe\r\nConnection: close\r\n\r\n",
        target.path, target.authority
    );
    stream.write_all(request.as_bytes()).await?;
    // The status line is all a probe reads.
    let mut head = Vec::with_capacity(64);
    let mut buf = [0u8; 256];
    while !head.windows(2).any(|w| w == b"\r\n") && head.len() < 1024 {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&head);
    let status = line
        .strip_prefix("HTTP/1.")
        .and_then(|l| l.get(2..5))
        .and_then(|code| code.parse::<u16>().ok())
        .with_context(|| format!("not an HTTP response: {:?}", line.lines().next()))?;
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_split_into_authority_and_path() {
        assert_eq!(
            parse("http://127.0.0.1:8080/readyz").unwrap(),
            Target {
                authority: "127.0.0.1:8080",
                path: "/readyz"
            }
        );
        assert_eq!(parse("http://lms:50051").unwrap().path, "/");
        assert!(parse("https://lms/readyz").is_err());
        assert!(parse("http:///readyz").is_err());
    }
}
