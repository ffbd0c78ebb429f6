//! Ids: every entity's id has its AWS prefix and is unique in the file; service names are unique across AWS services and endpoint services.

use super::*;

impl<'a> Validator<'a> {
    pub(super) fn index_ids(&mut self) {
        let c = self.c;
        for &collection in Collection::ALL {
            // AWS services have names, not ids: `services` below.
            if collection == Collection::AwsServices {
                continue;
            }
            for (index, id) in c.ids(collection).enumerate() {
                self.index_id(collection, index, id);
            }
        }
        self.index_service_names();
    }

    /// Checks one id (prefix, not empty, unique) and indexes it.
    fn index_id(&mut self, collection: Collection, index: usize, id: &'a str) {
        let p = path![collection, index, "id"];
        let prefix = collection.id_prefix();
        let kind = collection.name();
        if !prefix.is_empty() && (!id.starts_with(prefix) || id.len() == prefix.len()) {
            self.err(
                entity(collection, id),
                p.clone(),
                format!("`{id}` is not a {kind} id"),
                Some(format!("{kind} ids start with `{prefix}`")),
            );
        }
        if collection == Collection::Endpoints && id.starts_with("vpce-svc-") {
            self.err(
                entity(collection, id),
                p.clone(),
                format!("`{id}` is an endpoint service id"),
                Some("endpoints have ids `vpce-…`; services `vpce-svc-…` go under [[endpoint_services]]".into()),
            );
        }
        if id.trim().is_empty() {
            self.err(entity(collection, id), p, "the id is empty", None);
            return;
        }
        if let Some(prev) = self.ids.get(id) {
            let prev_loc = self
                .l
                .source
                .locate(&path![prev.collection, prev.index, "id"]);
            let msg = format!(
                "id `{id}` is already used by the {} at line {}",
                prev.collection.name(),
                prev_loc.line
            );
            let help = Some("ids are unique across the whole file".into());
            self.err(entity(collection, id), p, msg, help);
        } else {
            self.ids.insert(id, Def { collection, index });
        }
    }

    /// Service names, shared by AWS services and this configuration's endpoint services.
    fn index_service_names(&mut self) {
        let c = self.c;
        for (i, s) in c.aws_services.iter().enumerate() {
            let ent = entity(Collection::AwsServices, &s.name);
            self.index_service_name(s.name.clone(), Collection::AwsServices, i, ent);
        }
        for (i, s) in c.endpoint_services.iter().enumerate() {
            let ent = entity(Collection::EndpointServices, &s.id);
            self.index_service_name(
                s.service_name(&c.region),
                Collection::EndpointServices,
                i,
                ent,
            );
        }
    }

    /// Records that entry `index` of `collection` defines service `name`; a name defined
    /// twice is an error at the second, naming the first's line.
    fn index_service_name(
        &mut self,
        name: String,
        collection: Collection,
        index: usize,
        ent: String,
    ) {
        let def = Def { collection, index };
        let Some(prev) = self.services.insert(name.clone(), def) else {
            return;
        };
        let line = self
            .l
            .source
            .locate(&path![prev.collection, prev.index])
            .line;
        self.err(
            ent,
            path![collection, index, "name"],
            format!("service name `{name}` is already defined at line {line}"),
            None,
        );
    }
}
