//! Verifying the platform's job callbacks: an EdDSA JWT signed with the key the
//! registration published (`jwks`), looked up by the token's `kid`.
//!
//! pycti's rule, kept: the header names a `kid` of the set, the signature verifies with
//! that key, `iss` is `opencti`, `sub` (when present) is `connector`, `exp` (when present)
//! is not past, `iat` (when present) is not in the future; no audience.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use serde_json::Value;

/// The platform's public keys, by `kid`.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    keys: BTreeMap<String, VerifyingKey>,
}

impl KeySet {
    /// Reads a JWK Set (the registration's `jwks`); keys other than Ed25519 are skipped.
    pub fn from_jwks(jwks: &str) -> Result<KeySet, String> {
        let set: Value = serde_json::from_str(jwks).map_err(|e| format!("jwks is not JSON: {e}"))?;
        let mut keys = BTreeMap::new();
        for k in set["keys"].as_array().ok_or("jwks has no keys array")? {
            if k["kty"] != "OKP" || k["crv"] != "Ed25519" {
                continue;
            }
            let (Some(kid), Some(x)) = (k["kid"].as_str(), k["x"].as_str()) else { continue };
            let bytes: [u8; 32] = URL_SAFE_NO_PAD
                .decode(x)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| format!("key {kid}: x is not a 32-byte key"))?;
            let key = VerifyingKey::from_bytes(&bytes).map_err(|e| format!("key {kid}: {e}"))?;
            keys.insert(kid.to_string(), key);
        }
        Ok(KeySet { keys })
    }

    /// Whether `token` is a JWT the platform signed for a connector, at `now` (seconds).
    pub fn verify(&self, token: &str, now: i64) -> Result<(), String> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err("not a JWT".into());
        };
        let json = |part: &str| -> Result<Value, String> {
            let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| "not base64url")?;
            serde_json::from_slice(&bytes).map_err(|_| "not JSON".to_string())
        };
        let header = json(h)?;
        let kid = header["kid"].as_str().ok_or("no kid")?;
        let key = self.keys.get(kid).ok_or_else(|| format!("unknown kid {kid}"))?;
        if header["alg"] != "EdDSA" {
            return Err(format!("algorithm {} is not the key's (EdDSA)", header["alg"]));
        }
        let signature: [u8; 64] =
            URL_SAFE_NO_PAD.decode(s).ok().and_then(|b| b.try_into().ok()).ok_or("signature is not 64 bytes")?;
        key.verify(format!("{h}.{p}").as_bytes(), &Signature::from_bytes(&signature)).map_err(|_| "bad signature")?;
        let claims = json(p)?;
        if claims["iss"] != "opencti" {
            return Err("issuer is not opencti".into());
        }
        if !claims["sub"].is_null() && claims["sub"] != "connector" {
            return Err("subject is not connector".into());
        }
        if claims["exp"].as_i64().is_some_and(|exp| exp <= now) {
            return Err("expired".into());
        }
        if claims["iat"].as_i64().is_some_and(|iat| iat > now + 60) {
            return Err("issued in the future".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    fn sign(key: &SigningKey, kid: &str, claims: &str) -> String {
        let h = URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"EdDSA","kid":"{kid}"}}"#));
        let p = URL_SAFE_NO_PAD.encode(claims);
        let s = URL_SAFE_NO_PAD.encode(key.sign(format!("{h}.{p}").as_bytes()).to_bytes());
        format!("{h}.{p}.{s}")
    }

    #[test]
    fn accepts_the_platforms_token_and_refuses_the_rest() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let x = URL_SAFE_NO_PAD.encode(key.verifying_key().to_bytes());
        let set = KeySet::from_jwks(&format!(r#"{{"keys":[{{"kty":"OKP","crv":"Ed25519","x":"{x}","kid":"k1"}}]}}"#)).unwrap();
        let now = 1_000;
        assert_eq!(set.verify(&sign(&key, "k1", r#"{"iss":"opencti","sub":"connector","exp":2000,"iat":900}"#), now), Ok(()));
        assert!(set.verify(&sign(&key, "k2", r#"{"iss":"opencti"}"#), now).is_err(), "unknown kid");
        assert!(set.verify(&sign(&key, "k1", r#"{"iss":"other"}"#), now).is_err(), "issuer");
        assert!(set.verify(&sign(&key, "k1", r#"{"iss":"opencti","exp":999}"#), now).is_err(), "expired");
        let other = SigningKey::from_bytes(&[8; 32]);
        assert_eq!(set.verify(&sign(&other, "k1", r#"{"iss":"opencti"}"#), now), Err("bad signature".into()));
    }
}
