//! kube-state-metrics' view of a simulated cluster, for `pool usage`: the
//! nodes' labels and allocatable CPU and memory, and the resource requests
//! of the containers of pods bound to a node. Pods that have ended
//! (Succeeded, Failed) hold no resources and are left out, so a query needs
//! no join on `kube_pod_status_phase`.

use serde_json::Value;

use super::metrics_text::{family, quantity};

/// kube-state-metrics' label name for a Kubernetes label
/// (`cloud.google.com/gke-nodepool` → `label_cloud_google_com_gke_nodepool`).
pub fn label_name(k: &str) -> String {
    let clean: String = k
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("label_{clean}")
}

fn unit(resource: &str) -> &'static str {
    if resource == "cpu" {
        "core"
    } else {
        "byte"
    }
}

/// The exposition text for these nodes and pods.
pub fn render(nodes: &[Value], pods: &[Value]) -> String {
    let mut out = String::new();
    {
        let mut f = family(
            &mut out,
            "kube_node_labels",
            "gauge",
            "Kubernetes labels converted to Prometheus labels.",
        );
        for n in nodes {
            let name = n["metadata"]["name"].as_str().unwrap_or_default();
            let labels: Vec<(String, String)> = n["metadata"]["labels"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (label_name(k), v.as_str().unwrap_or_default().to_string()))
                        .collect()
                })
                .unwrap_or_default();
            let mut pairs: Vec<(&str, &str)> = vec![("node", name)];
            pairs.extend(labels.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            f.sample(&pairs, 1.0);
        }
    }
    {
        let mut f = family(
            &mut out,
            "kube_node_status_allocatable",
            "gauge",
            "The allocatable for different resources of a node that are available for scheduling.",
        );
        for n in nodes {
            let name = n["metadata"]["name"].as_str().unwrap_or_default();
            for resource in ["cpu", "memory"] {
                if let Some(q) = n["status"]["allocatable"][resource]
                    .as_str()
                    .and_then(quantity)
                {
                    f.sample(
                        &[
                            ("node", name),
                            ("resource", resource),
                            ("unit", unit(resource)),
                        ],
                        q,
                    );
                }
            }
        }
    }
    {
        let mut f = family(
            &mut out,
            "kube_pod_container_resource_requests",
            "gauge",
            "The number of requested request resource by a container.",
        );
        for p in pods {
            let phase = p["status"]["phase"].as_str().unwrap_or("Pending");
            let Some(node) = p["spec"]["nodeName"].as_str() else {
                continue;
            };
            if phase == "Succeeded" || phase == "Failed" {
                continue;
            }
            let ns = p["metadata"]["namespace"].as_str().unwrap_or_default();
            let pod = p["metadata"]["name"].as_str().unwrap_or_default();
            for c in p["spec"]["containers"].as_array().into_iter().flatten() {
                let container = c["name"].as_str().unwrap_or_default();
                for resource in ["cpu", "memory"] {
                    if let Some(q) = c["resources"]["requests"][resource]
                        .as_str()
                        .and_then(quantity)
                    {
                        f.sample(
                            &[
                                ("container", container),
                                ("namespace", ns),
                                ("node", node),
                                ("pod", pod),
                                ("resource", resource),
                                ("unit", unit(resource)),
                            ],
                            q,
                        );
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nodes_and_running_pods_become_allocatable_labels_and_requests() {
        let nodes = vec![
            json!({"metadata": {"name": "n1", "labels": {"cloud.google.com/gke-nodepool": "user"}},
                                "status": {"allocatable": {"cpu": "4", "memory": "16Gi"}}}),
        ];
        let pods = vec![
            json!({"metadata": {"name": "jupyter-a", "namespace": "staging"}, "spec": {"nodeName": "n1",
                   "containers": [{"name": "notebook", "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}}]},
                   "status": {"phase": "Running"}}),
            json!({"metadata": {"name": "done", "namespace": "staging"}, "spec": {"nodeName": "n1",
                   "containers": [{"name": "x", "resources": {"requests": {"cpu": "1"}}}]},
                   "status": {"phase": "Succeeded"}}),
        ];
        let text = render(&nodes, &pods);
        assert!(
            text.contains(
                "kube_node_labels{node=\"n1\",label_cloud_google_com_gke_nodepool=\"user\"} 1.0\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "kube_node_status_allocatable{node=\"n1\",resource=\"cpu\",unit=\"core\"} 4.0\n"
            ),
            "{text}"
        );
        assert!(text.contains("kube_pod_container_resource_requests{container=\"notebook\",namespace=\"staging\",node=\"n1\",pod=\"jupyter-a\",resource=\"cpu\",unit=\"core\"} 0.5\n"), "{text}");
        assert!(!text.contains("pod=\"done\""), "{text}");
    }
}
