//! Plans: what a mutating playbook would change, shown before approval and
//! bound to the approval by its hash; and the permissions a playbook needs.

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::exec::{bind_params, ExecError};
use super::model::Playbook;
use super::template;
use crate::actions::Permission;

/// The mutating steps of a run with their rendered targets.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Plan {
    pub steps: Vec<PlannedStep>,
    /// sha256 (hex) of playbook name + params + planned steps: an approval
    /// is bound to this, so approving one plan never runs another.
    pub hash: String,
}

/// One change a run would make.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PlannedStep {
    pub id: String,
    pub action: String,
    /// `patch apps/v1 deployments staging/hub @aws-us`.
    pub target: String,
    pub mutates: bool,
}

impl Playbook {
    /// The lock key for these params (`None` when the playbook has no lock).
    /// A template that cannot render falls back to the raw template text, so
    /// runs of the same playbook still exclude each other.
    pub fn lock_key(&self, params: &Value) -> Option<String> {
        let lock = self.lock.as_ref()?;
        let vars = bind_params(self, params).unwrap_or_default();
        Some(
            template::render_text(lock, &template::context(&Value::Object(vars)))
                .unwrap_or_else(|_| lock.clone()),
        )
    }

    /// The mutating steps with their targets rendered from `params`; values
    /// that depend on earlier read steps show as `<from step find>`.
    pub fn plan(&self, params: &Value) -> Result<Plan, ExecError> {
        let mut vars = bind_params(self, params)?;
        vars.insert("steps".into(), json!({}));
        let ctx = template::context(&Value::Object(vars.clone()));
        let mut steps = Vec::new();
        for step in self.steps.iter().filter(|s| s.mutates()) {
            let items: Vec<Option<Value>> = match &step.foreach {
                None => vec![None],
                Some(expr) => match template::eval(expr, &ctx) {
                    Ok(Value::Array(items)) => items.into_iter().map(Some).collect(),
                    _ => vec![Some(json!(format!(
                        "<each item of {}>",
                        template::expression_source(expr)
                    )))],
                },
            };
            for item in items {
                let mut v = vars.clone();
                if let Some(item) = item {
                    v.insert(step.as_name.clone(), item);
                }
                let ictx = template::context(&Value::Object(v));
                let args = template::render_value(&step.args, &ictx, &mut |src, e| {
                    let refs = template::references(src, false).unwrap_or_default();
                    match refs.iter().find_map(|r| r.strip_prefix("steps.")) {
                        Some(r) => Ok(json!(format!(
                            "<from step {}>",
                            r.split('.').next().unwrap_or(r)
                        ))),
                        None => Err(e),
                    }
                })
                .map_err(|message| ExecError::Template {
                    what: format!("step {} ({})", step.id, step.action_name()),
                    message,
                })?;
                let t = (step.action.describe)(&args);
                steps.push(PlannedStep {
                    id: step.id.clone(),
                    action: step.action_name().to_string(),
                    target: format!("{} {}", t.verb, t.target),
                    mutates: true,
                });
            }
        }
        let canonical = json!({ "playbook": self.name, "params": params, "steps": steps });
        let hash = hex::encode(Sha256::digest(canonical.to_string().as_bytes()));
        Ok(Plan { steps, hash })
    }

    /// Every Kubernetes permission the steps need, sorted and unique.
    pub fn permissions(&self) -> Vec<Permission> {
        let mut out: Vec<Permission> = self
            .steps
            .iter()
            .flat_map(|s| (s.action.permissions)(&s.args))
            .collect();
        out.sort();
        out.dedup();
        out
    }
}
