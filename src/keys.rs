//! The platform's Ed25519 key pair for connector HTTP callbacks.
//!
//! A 7.x platform publishes the public half as a JWK Set (`Connector.jwks`, a JSON
//! *string*) in every registration, and signs the JWTs its workers send to connectors in
//! HTTP listen mode with the private half. pycti parses this set in every `listen()`
//! call, in AMQP mode too, and looks keys up by `kid`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signer, SigningKey};
use serde_json::json;

/// The platform's connector key pair.
pub struct ConnectorKeys {
    signing: SigningKey,
    kid: String,
}

impl std::fmt::Debug for ConnectorKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectorKeys").field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl ConnectorKeys {
    /// A fresh random key pair.
    pub fn generate() -> Self {
        let signing = SigningKey::generate(&mut rand::rngs::OsRng);
        let public = signing.verifying_key().to_bytes();
        let kid = URL_SAFE_NO_PAD.encode(&public[..12]);
        ConnectorKeys { signing, kid }
    }

    /// Another random key pair that claims this one's key id: what it signs does not verify
    /// against [`ConnectorKeys::jwks`] (a wrongly signed JWT).
    pub fn impostor(&self) -> Self {
        ConnectorKeys { signing: SigningKey::generate(&mut rand::rngs::OsRng), kid: self.kid.clone() }
    }

    /// The public JWK Set as the JSON string registration returns.
    pub fn jwks(&self) -> String {
        let x = URL_SAFE_NO_PAD.encode(self.signing.verifying_key().to_bytes());
        json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": self.kid, "alg": "EdDSA", "use": "sig"}]}).to_string()
    }

    /// Signs a JWT (`alg: EdDSA`, header `kid`) over `claims`.
    pub fn sign_jwt(&self, claims: &serde_json::Value) -> String {
        let header = json!({"alg": "EdDSA", "typ": "JWT", "kid": self.kid});
        let signing_input =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        let signature = self.signing.sign(signing_input.as_bytes());
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
    }

    /// The platform's connector JWT: `iss: opencti`, `sub: connector`, valid one hour.
    pub fn connector_jwt(&self, now_epoch_seconds: i64) -> String {
        self.sign_jwt(&json!({"iss": "opencti", "sub": "connector", "iat": now_epoch_seconds, "exp": now_epoch_seconds + 3600}))
    }
}
