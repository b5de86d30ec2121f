//! AWS Signature Version 4, by hand (hmac + sha2 + hex: 14 crates, against 53 for `aws-sigv4`).
//!
//! Only what the query protocol needs: a request with a path, an already-encoded canonical
//! query string, a few headers and a body. The caller sends exactly the headers it signed.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// The secret part of a credential; `Debug` never shows the secret or the token.
#[derive(Clone, PartialEq, Eq)]
pub struct Keys {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys").field("access_key_id", &self.access_key_id).finish_non_exhaustive()
    }
}

/// What a request is signed for: region, service (`monitoring`, `ec2`, `sts`) and the time as
/// `YYYYMMDDTHHMMSSZ`.
pub struct Scope<'a> {
    pub region: &'a str,
    pub service: &'a str,
    pub amz_date: &'a str,
}

/// The request as signed. Header names may be in any case; values are trimmed.
pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    /// Canonical query string (sorted, percent-encoded), empty for none.
    pub query: &'a str,
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
}

/// The `Authorization` header value for `request`.
pub fn authorization(keys: &Keys, scope: &Scope, request: &Request) -> String {
    let (signed_headers, canonical) = canonical_request(request);
    let date = scope.amz_date.get(..8).unwrap_or(scope.amz_date);
    let credential_scope = format!("{date}/{}/{}/aws4_request", scope.region, scope.service);
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{}\n{credential_scope}\n{}",
        scope.amz_date,
        hex::encode(Sha256::digest(&canonical))
    );
    let mut key = hmac(format!("AWS4{}", keys.secret_access_key).as_bytes(), date.as_bytes());
    for part in [scope.region, scope.service, "aws4_request"] {
        key = hmac(&key, part.as_bytes());
    }
    let signature = hex::encode(hmac(&key, to_sign.as_bytes()));
    format!(
        "AWS4-HMAC-SHA256 Credential={}/{credential_scope}, SignedHeaders={signed_headers}, Signature={signature}",
        keys.access_key_id
    )
}

/// (signed header names, canonical request).
fn canonical_request(r: &Request) -> (String, String) {
    let mut headers: Vec<(String, String)> = r
        .headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.split_whitespace().collect::<Vec<_>>().join(" ")))
        .collect();
    headers.sort();
    let signed: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
    let signed = signed.join(";");
    let lines: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let payload = hex::encode(Sha256::digest(r.body));
    let canonical = format!("{}\n{}\n{}\n{lines}\n{signed}\n{payload}", r.method, r.path, r.query);
    (signed, canonical)
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC takes keys of any length: this cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// Percent-encodes as SigV4 and the query protocol want: everything but `A-Z a-z 0-9 - _ . ~`.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// `key=value&…` sorted by key, encoded: both the canonical query and a form body.
pub fn form(params: &[(String, String)]) -> String {
    let mut pairs: Vec<(String, String)> = params.iter().map(|(k, v)| (encode(k), encode(v))).collect();
    pairs.sort();
    pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    // AWS's Signature Version 4 test suite (aws-sig-v4-test-suite): every case signs with these
    // credentials, for region us-east-1, service `service`, at 2015-08-30T12:36:00Z.
    const DATE: &str = "20150830T123600Z";
    const HOST: (&str, &str) = ("Host", "example.amazonaws.com");
    const STAMP: (&str, &str) = ("X-Amz-Date", DATE);

    fn suite_keys() -> Keys {
        Keys {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: None,
        }
    }

    fn sign(method: &str, query: &str, headers: &[(&str, &str)], body: &[u8]) -> String {
        let scope = Scope { region: "us-east-1", service: "service", amz_date: DATE };
        authorization(&suite_keys(), &scope, &Request { method, path: "/", query, headers, body })
    }

    const PREFIX: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, ";

    #[test]
    fn get_vanilla() {
        assert_eq!(
            sign("GET", "", &[HOST, STAMP], b""),
            format!(
                "{PREFIX}SignedHeaders=host;x-amz-date, \
                 Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
            )
        );
    }

    #[test]
    fn post_vanilla_query() {
        assert_eq!(
            sign("POST", "Param1=value1", &[HOST, STAMP], b""),
            format!(
                "{PREFIX}SignedHeaders=host;x-amz-date, \
                 Signature=28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"
            )
        );
    }

    #[test]
    fn post_x_www_form_urlencoded() {
        let r = Request {
            method: "POST",
            path: "/",
            query: "",
            headers: &[("Content-Type", "application/x-www-form-urlencoded"), HOST, STAMP],
            body: b"Param1=value1",
        };
        let (signed, canonical) = canonical_request(&r);
        assert_eq!(signed, "content-type;host;x-amz-date");
        assert_eq!(
            hex::encode(Sha256::digest(&canonical)),
            "42a5e5bb34198acb3e84da4f085bb7927f2bc277ca766e6d19c73c2154021281",
            "{canonical}"
        );
        assert_eq!(
            sign("POST", "", r.headers, r.body),
            format!(
                "{PREFIX}SignedHeaders=content-type;host;x-amz-date, \
                 Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"
            )
        );
    }

    #[test]
    fn get_vanilla_query_order_key() {
        let query = form(&[("Param2".into(), "value2".into()), ("Param1".into(), "value1".into())]);
        assert_eq!(query, "Param1=value1&Param2=value2");
        assert_eq!(
            sign("GET", &query, &[HOST, STAMP], b""),
            format!(
                "{PREFIX}SignedHeaders=host;x-amz-date, \
                 Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"
            )
        );
    }

    #[test]
    fn encoding_and_debug_hide_the_secret() {
        assert_eq!(
            encode("SEARCH('{AWS/EC2} x', 'Average')"),
            "SEARCH%28%27%7BAWS%2FEC2%7D%20x%27%2C%20%27Average%27%29"
        );
        let shown = format!("{:?}", suite_keys());
        assert!(shown.contains("AKIDEXAMPLE") && !shown.contains("EXAMPLEKEY"), "{shown}");
    }
}
