//! The small per-object key the resync and trigger queues hold: a registration's name within its namespace, the
//! namespace spelled once however many keys hold it.

use std::collections::HashSet;
use std::sync::Arc;

/// A registration's name within its (interned) namespace.
#[derive(Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    pub namespace: Arc<str>,
    pub name: Box<str>,
}

/// The namespaces keys were made with, each held once.
#[derive(Debug, Default)]
pub struct Namespaces(HashSet<Arc<str>>);

impl Namespaces {
    /// A key for (`namespace`, `name`), interning the namespace.
    pub fn key(&mut self, namespace: &str, name: &str) -> Arc<ObjectKey> {
        let namespace = match self.0.get(namespace) {
            Some(interned) => interned.clone(),
            None => {
                let interned: Arc<str> = Arc::from(namespace);
                self.0.insert(interned.clone());
                interned
            }
        };
        Arc::new(ObjectKey {
            namespace,
            name: name.into(),
        })
    }

    /// The key (`namespace`, `name`) to look one up with, if any key was made in `namespace`.
    pub fn probe(&self, namespace: &str, name: &str) -> Option<ObjectKey> {
        Some(ObjectKey {
            namespace: self.0.get(namespace)?.clone(),
            name: name.into(),
        })
    }

    /// Forgets every namespace `in_use` rejects, and gives the set's spare capacity back.
    pub fn retain(&mut self, in_use: impl Fn(&Arc<str>) -> bool) {
        self.0.retain(|namespace| in_use(namespace));
        self.0.shrink_to_fit();
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_of_one_namespace_share_its_string() {
        let mut namespaces = Namespaces::default();
        let a = namespaces.key("shop", "a");
        let b = namespaces.key("shop", "b");
        assert!(Arc::ptr_eq(&a.namespace, &b.namespace));
        assert_eq!(namespaces.probe("shop", "a").as_ref(), Some(a.as_ref()));
        assert_eq!(namespaces.probe("other", "a"), None, "no key was made there");
        namespaces.retain(|_| false);
        assert!(namespaces.is_empty());
    }
}
