//! Name lists and allow-lists: the document and extension lists, trusted accounts and tenants,
//! allow rules as written and compiled, and the `*` name [`Pattern`].

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::{Window, WindowSpec};

/// Document and extension name lists (case-insensitive; `*` wildcards allowed).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DocumentLists {
    /// Documents that run caller-supplied scripts.
    pub script: Vec<String>,
    /// Routine maintenance documents (patching, inventory, agent management).
    pub routine: Vec<String>,
    /// Routine Azure VM extensions (monitoring, security agents).
    pub routine_extensions: Vec<String>,
    /// Name prefixes of documents owned by AWS; any other SSM document is custom.
    pub aws_owned_prefixes: Vec<String>,
    /// Fragments of document, runbook, run command and extension names that say what an
    /// attacker's code does (`suspicious_name`). Matched case-insensitively against the name
    /// with everything but letters and digits removed, so `reverse shell` matches
    /// `Reverse-Shell` and `reverse_shell_v2`.
    pub suspicious_names: Vec<String>,
}

impl Default for DocumentLists {
    fn default() -> Self {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect();
        Self {
            script: s(&[
                "AWS-RunShellScript",
                "AWS-RunPowerShellScript",
                "AWS-RunRemoteScript",
                "AWS-RunDocument",
                "AWS-RunAnsiblePlaybook",
                "AWS-RunSaltState",
                "AWS-ApplyAnsiblePlaybooks",
                "AWS-ApplyChefRecipes",
                "AWS-StartInteractiveCommand",
                "AWS-StartNonInteractiveCommand",
                "AWSSupport-RunEC2RescueForWindowsTool",
                "AWSSupport-ExecuteEC2Rescue",
            ]),
            routine: s(&[
                "AWS-RunPatchBaseline",
                "AWS-RunPatchBaselineAssociation",
                "AWS-RunPatchBaselineWithHooks",
                "AWS-ApplyPatchBaseline",
                "AWS-ConfigureAWSPackage",
                "AWS-GatherSoftwareInventory",
                "AWS-UpdateSSMAgent",
                "AWS-UpdateEC2Config",
                "AWS-RefreshAssociation",
                "AWS-ConfigureCloudWatch",
                "AmazonCloudWatch-ManageAgent",
                "AmazonInspector2-*",
                "AWSEC2-*",
                "AWS-InstallWindowsUpdates",
            ]),
            routine_extensions: s(&[
                "AzureMonitorLinuxAgent",
                "AzureMonitorWindowsAgent",
                "MicrosoftMonitoringAgent",
                "OmsAgentForLinux",
                "DependencyAgent*",
                "AzurePolicyforLinux",
                "AzurePolicyforWindows",
                "ConfigurationforLinux",
                "ConfigurationforWindows",
                "MDE.Linux",
                "MDE.Windows",
                "AzureSecurity*",
                "GuestHealth*",
                "AADSSHLoginForLinux",
                "AADLoginForWindows",
                "NetworkWatcherAgent*",
                "Microsoft.Azure.Monitor*",
            ]),
            aws_owned_prefixes: s(&[
                "AWS-",
                "AWSSupport-",
                "AWSEC2-",
                "AmazonCloudWatch-",
                "AmazonInspector",
                "AWSConfigRemediation-",
                "AWSFleetManager-",
                "AWSQuickSetup",
            ]),
            suspicious_names: s(&[
                "ransom",
                "encryptfiles",
                "encryptdisk",
                "encryptdrive",
                "exfil",
                "backdoor",
                "reverse shell",
                "revshell",
                "bind shell",
                "webshell",
                "mimikatz",
                "sekurlsa",
                "lsass",
                "hashdump",
                "creddump",
                "credential dump",
                "dumpcred",
                "keylog",
                "miner",
                "xmrig",
                "cryptojack",
                "meterpreter",
                "cobaltstrike",
                "beacon",
                "implant",
                "rootkit",
                "wiper",
                "privesc",
                "disable defender",
                "killav",
            ]),
        }
    }
}

/// Expected foreign callers.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Trusted {
    /// AWS account ids whose principals may call into this account
    /// (suppresses `cross_account_caller`).
    pub accounts: Vec<String>,
    /// Entra tenant ids (e.g. your managed-service provider) whose users may administer
    /// this tenant (suppresses `foreign_tenant_caller` and `delegated_admin`).
    pub tenants: Vec<String>,
}

/// Allow-lists. A match subtracts the rule's signal weight; nothing is ever dropped.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AllowLists {
    /// Principals (AWS ARN, role name, session name, Entra object id, UPN or app id).
    pub principals: Vec<AllowRule>,
    /// Documents, runbooks, run commands and extensions by name.
    pub documents: Vec<AllowRule>,
    /// Source networks.
    pub sources: Vec<AllowSource>,
}

/// One allow-list entry matched by name.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AllowRule {
    /// Case-insensitive pattern; `*` matches any run of characters.
    #[serde(rename = "match")]
    pub pattern: String,
    /// Why this is allowed (shown in the signal's reason).
    #[serde(default)]
    pub reason: Option<String>,
    /// Change windows; when present the rule applies only inside one of them.
    #[serde(default)]
    pub windows: Vec<WindowSpec>,
}

/// One allow-list entry matched by source network.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AllowSource {
    /// CIDR (`203.0.113.0/24`, `2001:db8::/32`) or a single address.
    pub cidr: Spanned<String>,
    /// Why this is allowed.
    #[serde(default)]
    pub reason: Option<String>,
    /// Change windows; when present the rule applies only inside one of them.
    #[serde(default)]
    pub windows: Vec<WindowSpec>,
}

/// A compiled name pattern (case-insensitive, `*` wildcard).
#[derive(Debug, Clone)]
pub struct Pattern {
    raw: String,
    parts: Vec<String>,
}

impl Pattern {
    /// Compiles a pattern.
    pub fn new(raw: &str) -> Self {
        Pattern {
            raw: raw.to_string(),
            parts: raw
                .to_ascii_lowercase()
                .split('*')
                .map(str::to_string)
                .collect(),
        }
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// Case-insensitive glob match of the whole text.
    pub fn matches(&self, text: &str) -> bool {
        let text = text.to_ascii_lowercase();
        let n = self.parts.len();
        if n == 1 {
            return text == self.parts[0];
        }
        let (first, last) = (&self.parts[0], &self.parts[n - 1]);
        if !text.starts_with(first.as_str()) || text.len() < first.len() + last.len() {
            return false;
        }
        if !text.ends_with(last.as_str()) {
            return false;
        }
        let mut rest = &text[first.len()..text.len() - last.len()];
        for mid in &self.parts[1..n - 1] {
            match rest.find(mid.as_str()) {
                Some(i) => rest = &rest[i + mid.len()..],
                None => return false,
            }
        }
        true
    }
}

/// A compiled allow rule.
#[derive(Debug, Clone)]
pub struct NameRule {
    /// The pattern.
    pub pattern: Pattern,
    /// Why.
    pub reason: Option<String>,
    /// Windows (empty = always).
    pub windows: Vec<Window>,
}

/// A compiled source allow rule.
#[derive(Debug, Clone)]
pub struct SourceRule {
    /// Network.
    pub net: IpNet,
    /// Why.
    pub reason: Option<String>,
    /// Windows (empty = always).
    pub windows: Vec<Window>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_glob_case_insensitively() {
        let p = Pattern::new("arn:aws:iam::*:role/Patch*");
        assert!(p.matches("arn:aws:iam::111122223333:role/PatchManagerRole"));
        assert!(!p.matches("arn:aws:iam::111122223333:role/Admin"));
        assert!(Pattern::new("AWS-RunPatchBaseline").matches("aws-runpatchbaseline"));
        assert!(Pattern::new("*").matches("anything"));
        assert!(!Pattern::new("a*a").matches("a"));
    }
}
