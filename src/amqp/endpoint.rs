//! Where a broker is reached.
//!
//! An [`Endpoint`] is plain data: the address, credentials and management API of a broker,
//! from the `rabbitmq:*` settings or a container started for the platform. It is its own
//! concept because it outlives any connection — registration hands it to connectors
//! (`crate::graphql`), `/_mock/health` displays it — and needs nothing of lapin beyond
//! turning itself into a URI for [`super::Broker`].

use crate::config::RabbitMq;

/// Where a broker is reached: what registration hands to connectors, less the advertised
/// host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Host.
    pub host: String,
    /// AMQP port.
    pub port: u16,
    /// Virtual host.
    pub vhost: String,
    /// User.
    pub username: String,
    /// Password.
    pub password: String,
    /// TLS.
    pub use_ssl: bool,
    /// Management API host.
    pub management_host: String,
    /// Management API port.
    pub management_port: u16,
}

impl Endpoint {
    /// The broker of the `rabbitmq:*` settings.
    pub fn from_settings(r: &RabbitMq) -> Endpoint {
        Endpoint {
            host: r.hostname.clone(),
            port: r.port,
            vhost: r.vhost.clone(),
            username: r.username.clone(),
            password: r.password.clone(),
            use_ssl: r.use_ssl,
            management_host: r.hostname_management.clone().unwrap_or_else(|| r.hostname.clone()),
            management_port: r.port_management,
        }
    }

    /// `amqp://user@host:port/vhost`, without the password.
    pub fn display(&self) -> String {
        let scheme = if self.use_ssl { "amqps" } else { "amqp" };
        let vhost = if self.vhost == "/" { "%2F".to_string() } else { self.vhost.clone() };
        format!("{scheme}://{}@{}:{}/{vhost}", self.username, self.host, self.port)
    }

    pub(super) fn uri(&self) -> lapin::uri::AMQPUri {
        lapin::uri::AMQPUri {
            scheme: if self.use_ssl { lapin::uri::AMQPScheme::AMQPS } else { lapin::uri::AMQPScheme::AMQP },
            authority: lapin::uri::AMQPAuthority {
                userinfo: lapin::uri::AMQPUserInfo { username: self.username.clone(), password: self.password.clone() },
                host: self.host.clone(),
                port: self.port,
            },
            vhost: self.vhost.clone(),
            query: lapin::uri::AMQPQueryString { frame_max: Some(FRAME_MAX), ..Default::default() },
        }
    }
}

/// The largest frame the platform's connection accepts (the broker's default is 128 KiB).
/// lapin keeps two buffers of 32 frames per connection, zero-filled: 8 MiB at the broker's
/// default, a third of an idle platform's memory; at 8 KiB (lapin's own starting size, so
/// they never grow) 512 KiB. A message larger than a frame is split into several, as the
/// protocol has it, so nothing else changes.
const FRAME_MAX: u32 = 8 * 1024;
