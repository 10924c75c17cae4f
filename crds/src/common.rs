//! Types and validation patterns shared by every Dezky kind.

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// DNS-1123 label: lower-case letters, digits and '-', starting and ending with a letter or digit.
pub const DNS1123_LABEL: &str = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";
/// A lower-case DNS domain name with at least two labels (IDN as punycode, `xn--`).
pub const DOMAIN_NAME: &str = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+[a-z0-9]([-a-z0-9]*[a-z0-9])?$";
/// An e-mail address whose domain part is a lower-case DNS name.
pub const EMAIL_ADDRESS: &str = r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@([a-z0-9]([-a-z0-9]*[a-z0-9])?\.)+[a-z0-9]([-a-z0-9]*[a-z0-9])?$";
/// A Kubernetes `resource.Quantity` string, e.g. `5Gi`, `500M`, `1e9`.
pub const QUANTITY: &str = r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$";
/// A Go-style duration string, e.g. `168h`, `90m`, `1h30m`.
pub const DURATION: &str = r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$";
/// An http(s) URL without whitespace.
pub const HTTP_URL: &str = r"^https?://[^\s/$.?#][^\s]*$";

/// The finalizer every Dezky object carries while the operator may still have to clean up upstream.
pub const FINALIZER: &str = "dezky.io/cleanup";
/// Annotation: while "true", the controller observes but changes nothing upstream.
pub const ANNOTATION_PAUSED: &str = "dezky.io/paused";
/// Annotation: "true" allows adopting an unmarked upstream object with this object's natural key
/// (only when the Tenant or Partner also has `spec.allowAdoption: true`).
pub const ANNOTATION_ADOPT: &str = "dezky.io/adopt";
/// Annotation on a MailDomain: any new value asks for an immediate DNS re-check.
pub const ANNOTATION_RECHECK: &str = "dezky.io/recheck";
/// Label on a namespace: the Tenant it belongs to.
pub const LABEL_TENANT: &str = "dezky.io/tenant";
/// Label on a namespace: the Partner it belongs to.
pub const LABEL_PARTNER: &str = "dezky.io/partner";

/// What happens upstream when the object is deleted.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum DeletionPolicy {
    /// Remove (or, for Members, retire) what the object created upstream.
    Delete,
    /// Leave everything upstream as it is.
    Orphan,
}

impl DeletionPolicy {
    /// The default of Member, MailDomain and SsoApp.
    pub fn delete() -> Self {
        DeletionPolicy::Delete
    }
    /// The default of Tenant and Partner.
    pub fn orphan() -> Self {
        DeletionPolicy::Orphan
    }
}

/// A reference to a cluster-scoped object by name.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
pub struct NameRef {
    /// Name of the referenced object.
    #[schemars(length(min = 1, max = 63), regex(pattern = DNS1123_LABEL))]
    pub name: String,
}

/// A reference to a Secret in the object's namespace.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
pub struct SecretRef {
    /// Name of the Secret.
    #[schemars(length(max = 253))]
    pub name: String,
}

/// A person to contact.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, KubeSchema)]
pub struct Contact {
    /// Full name or desk name.
    #[schemars(length(min = 1, max = 200))]
    pub name: String,
    /// E-mail address.
    #[schemars(length(max = 254), regex(pattern = EMAIL_ADDRESS))]
    pub email: String,
}

pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}
