//! Exchanges and their routing: which queues a message published with a routing key
//! reaches.
//!
//! Connectors and the platform use direct exchanges and the default exchange; fanout and
//! topic are here because they cost a few lines and clients declare them in examples.
//! The headers exchange (routing on header tables) is refused when declared, by name.

use std::collections::BTreeSet;

use amq_protocol::types::FieldTable;

/// An exchange type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Routes to the queues bound with exactly the routing key.
    Direct,
    /// Routes to every bound queue.
    Fanout,
    /// Routes on dot-separated words with `*` and `#`.
    Topic,
}

impl Kind {
    /// The type named in `exchange.declare`; `Err(true)` when it is a type RabbitMQ has
    /// but this broker does not, `Err(false)` when no broker has it.
    pub fn parse(name: &str) -> Result<Kind, bool> {
        match name {
            "direct" => Ok(Kind::Direct),
            "fanout" => Ok(Kind::Fanout),
            "topic" => Ok(Kind::Topic),
            "headers" | "x-consistent-hash" | "x-delayed-message" | "x-local-random" => Err(true),
            _ => Err(false),
        }
    }

    /// The type's name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Direct => "direct",
            Kind::Fanout => "fanout",
            Kind::Topic => "topic",
        }
    }
}

/// A binding of a queue to an exchange.
#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    /// The bound queue.
    pub queue: String,
    /// The binding key.
    pub key: String,
    /// The binding's arguments (kept, shown, compared when unbinding).
    pub arguments: FieldTable,
}

/// An exchange.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// Name.
    pub name: String,
    /// Type.
    pub kind: Kind,
    /// Survives a broker restart.
    pub durable: bool,
    /// Deleted when its last binding goes.
    pub auto_delete: bool,
    /// Cannot be published to directly.
    pub internal: bool,
    /// Its bindings, in the order they were made.
    pub bindings: Vec<Binding>,
}

impl Exchange {
    /// The queues a message with `routing_key` reaches, each once.
    pub fn route(&self, routing_key: &str) -> BTreeSet<String> {
        self.bindings
            .iter()
            .filter(|b| match self.kind {
                Kind::Direct => b.key == routing_key,
                Kind::Fanout => true,
                Kind::Topic => topic_matches(&b.key, routing_key),
            })
            .map(|b| b.queue.clone())
            .collect()
    }
}

/// Whether a topic binding key (`*` one word, `#` zero or more) matches a routing key.
///
/// ```
/// use opencti_mock::embedded_broker::exchange::topic_matches;
/// assert!(topic_matches("a.*.c", "a.b.c"));
/// assert!(topic_matches("a.#", "a"));
/// assert!(topic_matches("#.c", "a.b.c"));
/// assert!(!topic_matches("a.*", "a.b.c"));
/// ```
pub fn topic_matches(pattern: &str, key: &str) -> bool {
    fn go(p: &[&str], k: &[&str]) -> bool {
        match p.split_first() {
            None => k.is_empty(),
            Some((&"#", rest)) => (0..=k.len()).any(|skip| go(rest, &k[skip..])),
            Some((&"*", rest)) => !k.is_empty() && go(rest, &k[1..]),
            Some((word, rest)) => k.first() == Some(word) && go(rest, &k[1..]),
        }
    }
    let p: Vec<&str> = if pattern.is_empty() { vec![] } else { pattern.split('.').collect() };
    let k: Vec<&str> = if key.is_empty() { vec![] } else { key.split('.').collect() };
    go(&p, &k)
}

/// The exchanges every vhost starts with, as RabbitMQ has them (less the headers ones).
pub fn predeclared() -> Vec<Exchange> {
    [("amq.direct", Kind::Direct), ("amq.fanout", Kind::Fanout), ("amq.topic", Kind::Topic)]
        .into_iter()
        .map(|(name, kind)| Exchange {
            name: name.into(),
            kind,
            durable: true,
            auto_delete: false,
            internal: false,
            bindings: Vec::new(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exchange(kind: Kind, bindings: &[(&str, &str)]) -> Exchange {
        Exchange {
            name: "x".into(),
            kind,
            durable: true,
            auto_delete: false,
            internal: false,
            bindings: bindings
                .iter()
                .map(|(q, k)| Binding { queue: (*q).into(), key: (*k).into(), arguments: FieldTable::default() })
                .collect(),
        }
    }

    #[test]
    fn direct_routes_on_the_exact_key_and_each_queue_once() {
        let x = exchange(Kind::Direct, &[("q1", "a"), ("q2", "b"), ("q1", "a2"), ("q3", "a")]);
        assert_eq!(x.route("a").into_iter().collect::<Vec<_>>(), ["q1", "q3"]);
        assert!(x.route("c").is_empty());
    }

    #[test]
    fn fanout_ignores_the_key_and_topic_matches_words() {
        assert_eq!(exchange(Kind::Fanout, &[("q1", "a"), ("q2", "")]).route("zzz").len(), 2);
        let t = exchange(Kind::Topic, &[("q1", "stix.*"), ("q2", "#"), ("q3", "stix.#.end")]);
        assert_eq!(t.route("stix.create").len(), 2);
        assert_eq!(t.route("stix.a.b.end").len(), 2);
        assert!(!topic_matches("a", "a.b"));
        assert!(topic_matches("", ""));
        assert!(Kind::parse("headers") == Err(true) && Kind::parse("nope") == Err(false));
    }
}
