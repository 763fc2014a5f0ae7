//! The resource kinds as one contract. Each kind is a record type implementing [`Resource`]
//! (where the Inventory keeps it, its address, whose it is); the registry of kinds is in
//! `lib.rs`, beside the record types: [`ResourceKind`], [`with_kind!`](crate::with_kind) and a
//! `kept_by_name!` line per kind. The Inventory's own functions, the plan, both targets and the
//! auditor's read actions reach every kind through it, so a target that lacks a kind fails to
//! compile rather than skipping it.

use crate::names::Names;
use crate::*;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// One kind of resource: its Inventory record and the facts every consumer needs about it.
pub trait Resource:
    Serialize + DeserializeOwned + Clone + PartialEq + Send + Sync + 'static
{
    const KIND: ResourceKind;
    /// The kind's name in addresses (`bucket.van311-raw-…`), in plans and in control records.
    const ADDRESS: &'static str;
    /// Whether the kind's service carries tags, so that ownership is read from them; a kind
    /// without tags is the platform's only under exactly [`Resource::platform_name`].
    const CARRIES_TAGS: bool;

    /// The kind's resources in an Inventory, by name.
    fn each(inv: &Inventory) -> Vec<(&str, &Self)>;
    fn get<'a>(inv: &'a Inventory, name: &str) -> Option<&'a Self>;
    fn insert(inv: &mut Inventory, name: String, resource: Self);
    fn remove(inv: &mut Inventory, name: &str);
    /// The resource's tags, for kinds that carry them.
    fn tags(&self) -> Option<&Tags>;
    /// The one name a kind without tags has on a platform.
    fn platform_name(_names: &Names) -> Option<String> {
        None
    }
}

impl ResourceKind {
    /// The name used in plan addresses, e.g. `bucket.dapgov-raw`.
    pub fn as_str(self) -> &'static str {
        crate::with_kind!(self, R => R::ADDRESS)
    }

    /// The kind an address names (`bucket` in `bucket.van311-raw-…`).
    pub fn from_address(kind: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.as_str() == kind)
    }

    /// Whether the kind's service carries tags (ownership is read from them).
    pub fn carries_tags(self) -> bool {
        crate::with_kind!(self, R => R::CARRIES_TAGS)
    }

    /// The one name a kind without tags has on the platform `names` describes.
    pub fn platform_name(self, names: &Names) -> Option<String> {
        crate::with_kind!(self, R => R::platform_name(names))
    }
}

/// A kind kept in an Inventory map by name: its `Resource` facts.
macro_rules! kept_by_name {
    ($ty:ident, $field:ident, $address:literal, tagged) => {
        kept_by_name!(@impl $ty, $field, $address, true,
            fn tags(&self) -> Option<&Tags> { self.tags.as_ref() }
        );
    };
    ($ty:ident, $field:ident, $address:literal, named $name:ident) => {
        kept_by_name!(@impl $ty, $field, $address, false,
            fn tags(&self) -> Option<&Tags> { None }
            fn platform_name(names: &Names) -> Option<String> { Some(names.$name()) }
        );
    };
    (@impl $ty:ident, $field:ident, $address:literal, $carries:expr, $($kind_facts:item)*) => {
        impl Resource for $ty {
            const KIND: ResourceKind = ResourceKind::$ty;
            const ADDRESS: &'static str = $address;
            const CARRIES_TAGS: bool = $carries;
            fn each(inv: &Inventory) -> Vec<(&str, &Self)> {
                inv.$field.iter().map(|(n, r)| (n.as_str(), r)).collect()
            }
            fn get<'a>(inv: &'a Inventory, name: &str) -> Option<&'a Self> {
                inv.$field.get(name)
            }
            fn insert(inv: &mut Inventory, name: String, resource: Self) {
                inv.$field.insert(name, resource);
            }
            fn remove(inv: &mut Inventory, name: &str) {
                inv.$field.remove(name);
            }
            $($kind_facts)*
        }
    };
}

/// The account's settings: one record, named `account`, present once anything is declared.
impl Resource for AccountSettings {
    const KIND: ResourceKind = ResourceKind::AccountSettings;
    const ADDRESS: &'static str = "account_settings";
    const CARRIES_TAGS: bool = false;
    fn each(inv: &Inventory) -> Vec<(&str, &Self)> {
        Self::get(inv, ACCOUNT_SETTINGS_NAME)
            .map(|a| (ACCOUNT_SETTINGS_NAME, a))
            .into_iter()
            .collect()
    }
    fn get<'a>(inv: &'a Inventory, _name: &str) -> Option<&'a Self> {
        (inv.account != AccountSettings::default()).then_some(&inv.account)
    }
    fn insert(inv: &mut Inventory, _name: String, resource: Self) {
        inv.account = resource;
    }
    fn remove(inv: &mut Inventory, _name: &str) {
        inv.account = AccountSettings::default();
    }
    fn tags(&self) -> Option<&Tags> {
        None
    }
}

/// The name of the account settings' one record.
pub const ACCOUNT_SETTINGS_NAME: &str = "account";

impl Inventory {
    /// Every resource as (ref, JSON), in creation order.
    pub fn resources(&self) -> Vec<(ResourceRef, Value)> {
        fn each<R: Resource>(inv: &Inventory, out: &mut Vec<(ResourceRef, Value)>) {
            for (name, r) in R::each(inv) {
                out.push((ResourceRef::new(R::KIND, name), to_json(r)));
            }
        }
        let mut out = Vec::new();
        for &kind in ResourceKind::ALL {
            crate::with_kind!(kind, R => each::<R>(self, &mut out));
        }
        out.sort_by(|a, b| (a.0.kind, &a.0.name).cmp(&(b.0.kind, &b.0.name)));
        out
    }

    /// One resource as JSON.
    pub fn get(&self, r: &ResourceRef) -> Option<Value> {
        crate::with_kind!(r.kind, R => R::get(self, &r.name).map(to_json))
    }

    /// Puts a resource given as JSON (a control record, a desired record) in its place.
    pub fn insert_json(&mut self, r: &ResourceRef, value: Value) -> Result<(), serde_json::Error> {
        crate::with_kind!(r.kind, R => {
            let resource: R = serde_json::from_value(value)?;
            R::insert(self, r.name.clone(), resource);
        });
        Ok(())
    }

    /// The tags of a resource, where its kind carries them.
    pub fn tags_of(&self, r: &ResourceRef) -> Option<&Tags> {
        crate::with_kind!(r.kind, R => R::get(self, &r.name)?.tags())
    }

    pub(crate) fn remove(&mut self, r: &ResourceRef) {
        crate::with_kind!(r.kind, R => R::remove(self, &r.name))
    }
}

fn to_json<T: Serialize>(r: &T) -> Value {
    serde_json::to_value(r).expect("inventory types serialize")
}

impl ResourceRef {
    pub fn new(kind: ResourceKind, name: &str) -> Self {
        Self {
            kind,
            name: name.into(),
        }
    }

    /// The resource an address (`kind.name`) names, if its kind is one dapgov knows.
    pub fn parse(address: &str) -> Option<Self> {
        let (kind, name) = address.split_once('.')?;
        Some(Self::new(ResourceKind::from_address(kind)?, name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ALL` lists every kind once, in the order the enum declares (creation order).
    #[test]
    fn all_lists_every_kind_in_creation_order() {
        let mut sorted = ResourceKind::ALL.to_vec();
        sorted.sort();
        assert_eq!(sorted, ResourceKind::ALL);
        assert_eq!(ResourceKind::ALL.len(), 17);
        let addresses: std::collections::BTreeSet<&str> =
            ResourceKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(addresses.len(), ResourceKind::ALL.len());
        for &k in ResourceKind::ALL {
            assert_eq!(
                crate::with_kind!(k, R => R::KIND),
                k,
                "the registry maps {k:?} to its own type"
            );
            let json = serde_json::to_value(k).unwrap();
            assert_eq!(json, k.as_str(), "a kind's address is its serialized name");
        }
    }

    /// Every kind's record goes in and comes out of an Inventory through the registry.
    #[test]
    fn every_kind_round_trips_through_insert_json_and_get() {
        let mut inv = Inventory::default();
        for &kind in ResourceKind::ALL {
            let r = ResourceRef::new(kind, "x");
            let record = match kind {
                ResourceKind::AccountSettings => {
                    serde_json::json!({"public_access_block": PublicAccessBlock::all_on()})
                }
                ResourceKind::Key => serde_json::json!({"alias": "x"}),
                _ => serde_json::json!({"name": "x"}),
            };
            inv.insert_json(&r, record.clone()).unwrap();
            assert_eq!(inv.get(&r), Some(record), "{r}");
        }
        assert_eq!(inv.resources().len(), ResourceKind::ALL.len());
    }
}
