//! Redaction of database URLs for errors and logs.

/// Returns `url` with any password replaced by `***`: the password in the
/// user-info part (`postgres://user:PASSWORD@host/db`) and the values of
/// `password` / `sslpassword` query parameters.
///
/// ```
/// assert_eq!(
///     sanctuary_store::redact_url("postgres://alice:s3cret@db:5432/n?password=x&sslmode=require"),
///     "postgres://alice:***@db:5432/n?password=***&sslmode=require",
/// );
/// ```
pub fn redact_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let mut out = String::with_capacity(url.len());
    match base.split_once("://") {
        Some((scheme, rest)) => {
            out.push_str(scheme);
            out.push_str("://");
            let (authority, path) = match rest.find('/') {
                Some(i) => rest.split_at(i),
                None => (rest, ""),
            };
            match authority.rsplit_once('@') {
                Some((userinfo, host)) => {
                    match userinfo.split_once(':') {
                        Some((user, _password)) => {
                            out.push_str(user);
                            out.push_str(":***");
                        }
                        None => out.push_str(userinfo),
                    }
                    out.push('@');
                    out.push_str(host);
                }
                None => out.push_str(authority),
            }
            out.push_str(path);
        }
        None => out.push_str(base),
    }
    if let Some(q) = query {
        out.push('?');
        let mut first = true;
        for pair in q.split('&') {
            if !first {
                out.push('&');
            }
            first = false;
            match pair.split_once('=') {
                Some((k, _)) if is_secret_param(k) => {
                    out.push_str(k);
                    out.push_str("=***");
                }
                _ => out.push_str(pair),
            }
        }
    }
    out
}

fn is_secret_param(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    k == "password" || k == "sslpassword" || k == "pass"
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn redacts_userinfo_and_params() {
        assert_eq!(redact_url("postgres://a:b@h:1/d"), "postgres://a:***@h:1/d");
        assert_eq!(redact_url("postgres://a@h:1/d"), "postgres://a@h:1/d");
        assert_eq!(
            redact_url("postgresql://a:p@ss@h/d"),
            "postgresql://a:***@h/d"
        );
        assert_eq!(
            redact_url("postgres://h/d?Password=zz"),
            "postgres://h/d?Password=***"
        );
        assert_eq!(redact_url("sqlite:///tmp/x.db"), "sqlite:///tmp/x.db");
        assert_eq!(redact_url("sqlite::memory:"), "sqlite::memory:");
        assert_eq!(redact_url("mysql://u:pw@h"), "mysql://u:***@h");
    }
}
