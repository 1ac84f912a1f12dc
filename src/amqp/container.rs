//! A throwaway RabbitMQ 4.x in a container, on request (`--broker container`; a Docker
//! engine is needed).
//!
//! The image is pinned. testcontainers-modules' RabbitMQ image is a 3.8 with an exact
//! start-up line; this is the 4.x management image with the platform's own broker settings
//! (`max_message_size` 512 MiB is refused by 3.8/3.9 but accepted by 4.x) and a looser wait
//! condition. The container lives as long as the [`BrokerContainer`].
//!
//! The Docker client comes with the `docker` feature (on by default). Without it a
//! container asked for is refused, saying why.

#[cfg(feature = "docker")]
use std::time::Duration;

#[cfg(feature = "docker")]
use testcontainers::core::{IntoContainerPort, WaitFor};
#[cfg(feature = "docker")]
use testcontainers::runners::AsyncRunner;
#[cfg(feature = "docker")]
use testcontainers::{ContainerAsync, GenericImage, ImageExt};

/// Image name.
pub const IMAGE: &str = "rabbitmq";
/// Pinned tag (RabbitMQ 4.x with the management plugin).
pub const TAG: &str = "4.1.4-management";

/// A running broker container.
pub struct BrokerContainer {
    #[cfg(feature = "docker")]
    _container: ContainerAsync<GenericImage>,
    /// Host to connect to.
    pub host: String,
    /// Mapped AMQP port.
    pub amqp_port: u16,
    /// Mapped management port.
    pub management_port: u16,
}

impl std::fmt::Debug for BrokerContainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerContainer").field("host", &self.host).field("amqp_port", &self.amqp_port).finish()
    }
}

/// Whether a Docker engine looks reachable (`DOCKER_HOST`, or the default socket).
#[cfg(not(feature = "docker"))]
pub fn docker_available() -> Result<(), String> {
    Err("this build has no Docker client (the `docker` feature of opencti-mock is off)".into())
}

/// Starts the container and waits for the broker: never, without the `docker` feature.
#[cfg(not(feature = "docker"))]
pub async fn start() -> Result<BrokerContainer, String> {
    docker_available().map(|()| unreachable!("docker_available always refuses without the feature"))
}

/// Whether a Docker engine looks reachable (`DOCKER_HOST`, or the default socket).
#[cfg(feature = "docker")]
pub fn docker_available() -> Result<(), String> {
    if let Ok(host) = std::env::var("DOCKER_HOST")
        && !host.is_empty()
    {
        return Ok(());
    }
    for socket in ["/var/run/docker.sock", "/run/docker.sock"] {
        if std::path::Path::new(socket).exists() {
            return Ok(());
        }
    }
    Err("no Docker engine (DOCKER_HOST unset and no /var/run/docker.sock)".into())
}

/// Starts the container and waits for the broker.
#[cfg(feature = "docker")]
pub async fn start() -> Result<BrokerContainer, String> {
    docker_available()?;
    let container = GenericImage::new(IMAGE, TAG)
        .with_exposed_port(5672.tcp())
        .with_exposed_port(15672.tcp())
        .with_wait_for(WaitFor::message_on_either_std("Server startup complete"))
        .with_env_var("RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS", "-rabbit max_message_size 536870912 consumer_timeout 86400000")
        .with_startup_timeout(Duration::from_secs(120))
        .start()
        .await
        .map_err(|e| format!("could not start {IMAGE}:{TAG}: {e}"))?;
    let host = container.get_host().await.map_err(|e| e.to_string())?.to_string();
    let amqp_port = container.get_host_port_ipv4(5672).await.map_err(|e| e.to_string())?;
    let management_port = container.get_host_port_ipv4(15672).await.map_err(|e| e.to_string())?;
    Ok(BrokerContainer { _container: container, host, amqp_port, management_port })
}
