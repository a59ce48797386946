//! The resource types the server knows: built-ins (Node, Lease, Event, CRDs themselves) and
//! every served version of each registered CustomResourceDefinition.

use serde_json::{Value, json};

use crate::schema::Schema;

/// Whether objects of a resource live in a namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Scope {
    /// Cluster-scoped (Node, CiliumNode, CRDs).
    Cluster,
    /// Namespaced (Lease, Event).
    Namespaced,
}

/// Which part of an object a write may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Subresource {
    /// The main resource: with a status subresource, status changes are ignored.
    Main,
    /// `/status`: only status changes are kept.
    Status,
}

/// One served resource (group, version, plural) with its behaviour.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ResourceType {
    /// API group, `""` for the core group.
    pub group: String,
    /// Version, e.g. `v1`, `v2`.
    pub version: String,
    /// Plural name used in paths, e.g. `ciliumnodes`.
    pub plural: String,
    /// Singular name.
    pub singular: String,
    /// Kind, e.g. `CiliumNode`.
    pub kind: String,
    /// Short names for discovery (`cn`).
    pub short_names: Vec<String>,
    /// Cluster or namespaced.
    pub scope: Scope,
    /// Whether `/status` is a separate subresource.
    pub status_subresource: bool,
    /// Structural schema for validation and pruning (custom resources only).
    pub schema: Option<Schema>,
}

impl ResourceType {
    /// `group/version`, or `version` for the core group.
    #[must_use]
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The storage key shared by every version of the resource: `plural.group`.
    #[must_use]
    pub fn storage_key(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// Whether objects live in namespaces.
    #[must_use]
    pub fn namespaced(&self) -> bool {
        self.scope == Scope::Namespaced
    }

    /// The discovery entry (`APIResource`) for this resource and its status subresource.
    pub(crate) fn discovery(&self) -> Vec<Value> {
        let verbs = json!([
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch"
        ]);
        let mut out = vec![json!({
            "name": self.plural,
            "singularName": self.singular,
            "namespaced": self.namespaced(),
            "kind": self.kind,
            "verbs": verbs,
            "shortNames": self.short_names,
        })];
        if self.status_subresource {
            out.push(json!({
                "name": format!("{}/status", self.plural),
                "singularName": "",
                "namespaced": self.namespaced(),
                "kind": self.kind,
                "verbs": ["get", "patch", "update"],
            }));
        }
        out
    }

    fn builtin(group: &str, version: &str, plural: &str, kind: &str, scope: Scope) -> Self {
        Self {
            group: group.to_owned(),
            version: version.to_owned(),
            plural: plural.to_owned(),
            singular: kind.to_lowercase(),
            kind: kind.to_owned(),
            short_names: Vec::new(),
            scope,
            status_subresource: false,
            schema: None,
        }
    }
}

/// The built-in resources served without registration.
pub(crate) fn builtins() -> Vec<ResourceType> {
    let mut node = ResourceType::builtin("", "v1", "nodes", "Node", Scope::Cluster);
    node.status_subresource = true;
    node.short_names = vec!["no".to_owned()];

    let mut crd = ResourceType::builtin(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        Scope::Cluster,
    );
    crd.status_subresource = true;
    crd.short_names = vec!["crd".to_owned(), "crds".to_owned()];

    let mut event = ResourceType::builtin("", "v1", "events", "Event", Scope::Namespaced);
    event.short_names = vec!["ev".to_owned()];

    vec![
        node,
        crd,
        ResourceType::builtin(
            "coordination.k8s.io",
            "v1",
            "leases",
            "Lease",
            Scope::Namespaced,
        ),
        event,
        ResourceType::builtin("events.k8s.io", "v1", "events", "Event", Scope::Namespaced),
    ]
}

/// The served versions of a CustomResourceDefinition object (JSON), or why it is unusable.
pub(crate) fn from_crd(crd: &Value) -> Result<Vec<ResourceType>, String> {
    let spec = crd.get("spec").ok_or("spec is missing")?;
    let text = |pointer: &str| {
        spec.pointer(pointer)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };

    let group = text("/group").ok_or("spec.group is missing")?;
    let plural = text("/names/plural").ok_or("spec.names.plural is missing")?;
    let kind = text("/names/kind").ok_or("spec.names.kind is missing")?;
    let singular = text("/names/singular").unwrap_or_else(|| kind.to_lowercase());
    let scope = match text("/scope").as_deref() {
        Some("Cluster") => Scope::Cluster,
        Some("Namespaced") => Scope::Namespaced,
        other => return Err(format!("spec.scope {other:?} is not Cluster or Namespaced")),
    };
    let short_names: Vec<String> = spec
        .pointer("/names/shortNames")
        .and_then(Value::as_array)
        .map(|names| {
            names
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();

    let versions = spec
        .get("versions")
        .and_then(Value::as_array)
        .ok_or("spec.versions is missing")?;
    let mut out = Vec::new();
    for version in versions {
        if version.get("served").and_then(Value::as_bool) == Some(false) {
            continue;
        }
        let name = version
            .get("name")
            .and_then(Value::as_str)
            .ok_or("a version has no name")?;
        out.push(ResourceType {
            group: group.clone(),
            version: name.to_owned(),
            plural: plural.clone(),
            singular: singular.clone(),
            kind: kind.clone(),
            short_names: short_names.clone(),
            scope,
            status_subresource: version.pointer("/subresources/status").is_some(),
            schema: version
                .pointer("/schema/openAPIV3Schema")
                .map(Schema::from_json),
        });
    }
    if out.is_empty() {
        return Err("no version is served".to_owned());
    }
    Ok(out)
}
