//! The dashboard's domain: users and their roles, passwords (argon2id), session, share and setup
//! tokens, CSRF tokens, and the validation of settings (branding, share links).
//!
//! Tokens carry 256 random bits, so they are stored as SHA-256 (like API keys); passwords have
//! little entropy, so they are stored as argon2id hashes.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::ValidationErrors;
use crate::time::Micros;

/// Shortest password.
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Longest password (argon2 takes any length; this bounds the work per attempt).
pub const MAX_PASSWORD_CHARS: usize = 1_000;
/// Longest e-mail address (RFC 5321's path limit).
pub const MAX_EMAIL_CHARS: usize = 254;
/// Largest body of a sign-in, setup or password-change request: an e-mail, a token and two
/// passwords of [`MAX_PASSWORD_CHARS`] fit even when every character is a JSON `\uXXXX` pair;
/// anything larger is refused before it is parsed or counted.
pub const MAX_AUTH_BODY_BYTES: usize = 16 * 1024;
/// Longest branding display name.
pub const MAX_DISPLAY_NAME_CHARS: usize = 100;
/// Longest share link label.
pub const MAX_SHARE_LABEL_CHARS: usize = 100;
/// Largest logo, decoded.
pub const MAX_LOGO_BYTES: usize = 256 * 1024;
/// Longest agent name.
pub const MAX_AGENT_NAME_CHARS: usize = 255;
/// How long a session lives without use.
pub const SESSION_TTL_MICROS: Micros = 14 * 24 * 3_600 * 1_000_000;
/// How long a session lives at most from its creation, however often it is used: extending
/// never passes it, and a session older than this is refused.
pub const SESSION_MAX_AGE_MICROS: Micros = 30 * 24 * 3_600 * 1_000_000;
/// A session is extended (one write) only once this much of its life has passed.
pub const SESSION_REFRESH_AFTER_MICROS: Micros = 24 * 3_600 * 1_000_000;

/// What a dashboard user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserRole {
    /// Every agent, every setting.
    Admin,
    /// Only the assigned agents, read-only.
    Viewer,
}

impl UserRole {
    /// The stored and shown name.
    pub fn as_str(self) -> &'static str {
        match self {
            UserRole::Admin => "admin",
            UserRole::Viewer => "viewer",
        }
    }

    /// Parses `admin` or `viewer`.
    pub fn parse(s: &str) -> Option<UserRole> {
        match s.trim().to_ascii_lowercase().as_str() {
            "admin" => Some(UserRole::Admin),
            "viewer" => Some(UserRole::Viewer),
            _ => None,
        }
    }
}

/// Trims and lower-cases an e-mail address and checks its shape (one `@` with text on both
/// sides, no spaces, at most [`MAX_EMAIL_CHARS`]).
pub fn email(s: &str) -> Result<String, String> {
    let e = s.trim().to_lowercase();
    if e.chars().count() > MAX_EMAIL_CHARS {
        return Err(format!("Ensure this field has no more than {MAX_EMAIL_CHARS} characters."));
    }
    match e.split_once('@') {
        Some((local, domain))
            if !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !e.chars().any(|c| c.is_whitespace() || c.is_control()) =>
        {
            Ok(e)
        }
        _ => Err("Enter a valid email address.".into()),
    }
}

/// Checks a new password's length.
pub fn password(s: &str) -> Result<(), String> {
    let n = s.chars().count();
    if n < MIN_PASSWORD_CHARS {
        Err(format!("Ensure this field has at least {MIN_PASSWORD_CHARS} characters."))
    } else if n > MAX_PASSWORD_CHARS {
        Err(format!("Ensure this field has no more than {MAX_PASSWORD_CHARS} characters."))
    } else {
        Ok(())
    }
}

/// The argon2id hash of a password (PHC string, with a random salt and argon2's default cost).
pub fn hash_password(password: &str) -> Result<String, String> {
    let mut raw = [0u8; 16];
    rand::rng().fill_bytes(&mut raw);
    let salt = SaltString::encode_b64(&raw).map_err(|e| format!("salt: {e}"))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("hashing the password: {e}"))
}

/// True when `password` matches the stored PHC hash (constant time inside argon2).
pub fn verify_password(stored: &str, password: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(h) => Argon2::default().verify_password(password.as_bytes(), &h).is_ok(),
        Err(_) => false,
    }
}

/// A hash no password matches, checked when the e-mail is unknown so that a wrong e-mail
/// takes as long as a wrong password.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("not a password of anyone's").unwrap_or_default())
}

/// A freshly generated secret token: what the holder gets, and what is stored.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// The secret, `<kind>_<64 hex>`.
    pub secret: String,
    /// A non-secret prefix to tell tokens apart in listings.
    pub prefix: String,
    /// SHA-256 of the secret.
    pub hash: [u8; 32],
}

/// Prefix of session tokens.
pub const SESSION_PREFIX: &str = "ses";
/// Prefix of share tokens.
pub const SHARE_PREFIX: &str = "shr";
/// Prefix of setup tokens.
pub const SETUP_PREFIX: &str = "stp";
/// How long the setup link printed at start works (a restart prints a new one).
pub const SETUP_TOKEN_TTL_MICROS: Micros = 24 * 3_600 * 1_000_000;

/// Generates a 256-bit token from the OS random source: `<kind>_<64 hex>`.
pub fn generate_token(kind: &str) -> NewToken {
    let mut body = [0u8; 32];
    rand::rng().fill_bytes(&mut body);
    let secret = format!("{kind}_{}", hex::encode(body));
    NewToken { prefix: secret[..kind.len() + 9].to_string(), hash: token_hash(&secret), secret }
}

/// True when `s` looks like a token of this kind (so garbage never reaches the store).
pub fn is_token(kind: &str, s: &str) -> bool {
    s.len() == kind.len() + 1 + 64
        && s.starts_with(kind)
        && s.as_bytes()[kind.len()] == b'_'
        && s[kind.len() + 1..].bytes().all(|b| b.is_ascii_hexdigit())
}

/// SHA-256 of a token as presented.
pub fn token_hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.trim().as_bytes()).into()
}

/// The CSRF token of a session: derived from its secret, so only the holder of the cookie can
/// know it and the server stores nothing more.
pub fn csrf_token(session_secret: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"agentsight-csrf\0");
    h.update(session_secret.as_bytes());
    hex::encode(h.finalize())
}

/// Checks a presented CSRF token against the session's, in constant time.
pub fn csrf_matches(session_secret: &str, presented: &str) -> bool {
    crate::keys::hashes_equal(csrf_token(session_secret).as_bytes(), presented.trim().as_bytes())
}

/// An image to show as an agent's logo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logo {
    /// `image/png`, `image/jpeg`, `image/webp` or `image/svg+xml`.
    pub mime_type: String,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// Parses a `data:` URL of a PNG, JPEG, WebP or SVG image of at most [`MAX_LOGO_BYTES`].
pub fn logo_from_data_url(s: &str) -> Result<Logo, String> {
    let rest =
        s.trim().strip_prefix("data:").ok_or("Send the logo as a data: URL (data:image/png;base64,…).")?;
    let (meta, data) = rest.split_once(',').ok_or("A data: URL has a comma before its data.")?;
    let mime = meta.strip_suffix(";base64").ok_or("The data: URL must be base64 (…;base64,…).")?;
    let mime = mime.trim().to_ascii_lowercase();
    if !matches!(mime.as_str(), "image/png" | "image/jpeg" | "image/webp" | "image/svg+xml") {
        return Err("The logo must be a PNG, JPEG, WebP or SVG image.".into());
    }
    if data.len() > MAX_LOGO_BYTES / 3 * 4 + 8 {
        return Err(format!("The logo is larger than {MAX_LOGO_BYTES} bytes."));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data.trim())
        .map_err(|_| "The logo's data is not valid base64.".to_string())?;
    if bytes.len() > MAX_LOGO_BYTES {
        return Err(format!("The logo is larger than {MAX_LOGO_BYTES} bytes."));
    }
    if bytes.is_empty() {
        return Err("The logo is empty.".into());
    }
    Ok(Logo { mime_type: mime, bytes })
}

/// Checks an accent colour: `#rrggbb`, returned lower-case.
pub fn accent_color(s: &str) -> Result<String, String> {
    let c = s.trim().to_ascii_lowercase();
    if c.len() == 7 && c.starts_with('#') && c[1..].bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(c)
    } else {
        Err("Use a colour like #1f77b4.".into())
    }
}

/// Checks a branding display name (trimmed, 1 to [`MAX_DISPLAY_NAME_CHARS`] characters).
pub fn display_name(s: &str) -> Result<String, String> {
    bounded_text(s, MAX_DISPLAY_NAME_CHARS)
}

/// Checks an agent name (trimmed, 1 to [`MAX_AGENT_NAME_CHARS`] characters).
pub fn agent_name(s: &str) -> Result<String, String> {
    bounded_text(s, MAX_AGENT_NAME_CHARS)
}

/// Checks a share link label (trimmed, 1 to [`MAX_SHARE_LABEL_CHARS`] characters).
pub fn share_label(s: &str) -> Result<String, String> {
    bounded_text(s, MAX_SHARE_LABEL_CHARS)
}

fn bounded_text(s: &str, max: usize) -> Result<String, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("This field may not be blank.".into());
    }
    crate::limits::check_chars(t, max)?;
    Ok(t.to_string())
}

/// Checks a share link's expiry: an ISO 8601 instant in the future.
pub fn share_expiry(s: &str, now: Micros) -> Result<Micros, String> {
    let t = crate::time::parse_timestamp(s.trim())?;
    if t <= now { Err("The expiry must be in the future.".into()) } else { Ok(t) }
}

/// Whether a share link works at `now`.
pub fn share_is_live(expires_at: Option<Micros>, revoked_at: Option<Micros>, now: Micros) -> bool {
    revoked_at.is_none() && expires_at.is_none_or(|e| now < e)
}

/// Collects the errors of a new user's fields.
pub fn validate_new_user(
    email_in: &str,
    password_in: &str,
    role_in: &str,
) -> Result<(String, UserRole), ValidationErrors> {
    let mut e = ValidationErrors::default();
    let email = e.check("email", email(email_in));
    e.check("password", password(password_in));
    let role = e.check("role", UserRole::parse(role_in).ok_or_else(|| "Use admin or viewer.".to_string()));
    match (email, role) {
        (Some(m), Some(r)) if e.is_empty() => Ok((m, r)),
        _ => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password(&h, "correct horse battery"));
        assert!(!verify_password(&h, "correct horse batterx"));
        assert!(!verify_password("garbage", "x"));
        assert!(!verify_password(dummy_hash(), ""));
    }

    #[test]
    fn emails_are_normalized_and_checked() {
        assert_eq!(email("  Ana@Example.COM ").unwrap(), "ana@example.com");
        for bad in ["", "ana", "@x", "ana@", "a b@x", "a@b@c", &format!("{}@x.io", "a".repeat(260))] {
            assert!(email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_have_a_length_range() {
        assert!(password("123456789").is_err());
        assert!(password("1234567890").is_ok());
        assert!(password(&"x".repeat(MAX_PASSWORD_CHARS + 1)).is_err());
    }

    #[test]
    fn tokens_are_random_recognised_and_hashed() {
        let a = generate_token(SHARE_PREFIX);
        let b = generate_token(SHARE_PREFIX);
        assert_ne!(a.secret, b.secret);
        assert!(is_token(SHARE_PREFIX, &a.secret));
        assert!(!is_token(SESSION_PREFIX, &a.secret));
        assert!(!is_token(SHARE_PREFIX, &a.secret[..20]));
        assert_eq!(a.hash, token_hash(&a.secret));
        assert!(a.secret.starts_with(&a.prefix) && a.prefix.len() == 12);
    }

    #[test]
    fn csrf_tokens_belong_to_their_session() {
        let s = generate_token(SESSION_PREFIX).secret;
        let t = csrf_token(&s);
        assert!(csrf_matches(&s, &t));
        assert!(!csrf_matches(&generate_token(SESSION_PREFIX).secret, &t));
        assert!(!csrf_matches(&s, ""));
    }

    #[test]
    fn logos_are_small_images_in_data_urls() {
        let ok = logo_from_data_url("data:image/png;base64,iVBORw0KGgo=").unwrap();
        assert_eq!(ok.mime_type, "image/png");
        assert_eq!(ok.bytes[..4], [0x89, b'P', b'N', b'G']);
        assert!(logo_from_data_url("data:text/html;base64,PGI+").is_err());
        assert!(logo_from_data_url("https://example.invalid/logo.png").is_err());
        assert!(logo_from_data_url("data:image/png;base64,!!!").is_err());
        let big = base64::engine::general_purpose::STANDARD.encode(vec![0u8; MAX_LOGO_BYTES + 1]);
        assert!(logo_from_data_url(&format!("data:image/png;base64,{big}")).is_err());
    }

    #[test]
    fn colours_labels_and_expiry_are_checked() {
        assert_eq!(accent_color(" #1F77B4 ").unwrap(), "#1f77b4");
        assert!(accent_color("red").is_err() && accent_color("#12345").is_err());
        assert!(share_label(" ").is_err());
        assert!(share_expiry("2000-01-01T00:00:00Z", 1_780_000_000_000_000).is_err());
        assert!(share_expiry("2100-01-01T00:00:00Z", 1_780_000_000_000_000).is_ok());
        assert!(share_is_live(None, None, 5));
        assert!(!share_is_live(Some(5), None, 5));
        assert!(!share_is_live(None, Some(1), 5));
    }

    #[test]
    fn a_new_user_names_every_bad_field() {
        let e = validate_new_user("nope", "short", "boss").unwrap_err();
        assert_eq!(e.0.keys().cloned().collect::<Vec<_>>(), ["email", "password", "role"]);
        assert_eq!(validate_new_user("A@b.c", "long enough!", "viewer").unwrap().1, UserRole::Viewer);
    }
}
