//! S3 buckets and their bucket policies (`s3api list-buckets`, `get-bucket-policy` per
//! bucket): what `vpcectl policy check` and `trace --action` evaluate after an endpoint policy.

use toml::Value as T;

use super::{opt, s, table, Import, ImportError};

pub(super) fn buckets(im: &mut Import) -> Result<Vec<T>, ImportError> {
    let mut out = Vec::new();
    let Some(d) = im.read("s3api-list-buckets")? else {
        return Ok(out);
    };
    for (p, b) in d.list("Buckets")? {
        let name = d.str(b, &p, "Name")?;
        let mut t = vec![("name", s(name))];
        if let Some(pd) = im.read(&format!("s3api-get-bucket-policy-{name}"))? {
            if let Some(text) = opt(&pd.v, "Policy") {
                match crate::policy::Policy::parse_resource_policy(text) {
                    Ok(_) => t.push(("policy", s(text))),
                    Err(e) => im.warn(format!("bucket {name}: its policy is left out ({e})")),
                }
            }
        }
        out.push(table(t));
    }
    Ok(out)
}
