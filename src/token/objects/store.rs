//! The token's object cache: the last ENUMERATE, the public files read so far, and the
//! objects with their handles.
//!
//! Handles: one per [`Identity`] while the card stays in the reader (so the same key keeps its
//! handle through label changes and re-reads); an identity that disappears loses its handle
//! for good, and handles come from the library-wide counter, so none is ever reused.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use cryptoki_sys::{CK_OBJECT_HANDLE, CK_SESSION_HANDLE};

use super::model::{Body, Identity, Object};
use crate::card::Fid;

#[derive(Default)]
pub struct ObjectStore {
    /// The FIDs of the last ENUMERATE OBJECTS (`None` = not enumerated yet).
    pub fids: Option<BTreeSet<Fid>>,
    /// Contents of files read (descriptions, certificates, requests, public data);
    /// `None` = the file does not exist. Private data (CDxx) is never kept here.
    pub files: HashMap<Fid, Option<Arc<Vec<u8>>>>,
    pub objects: BTreeMap<CK_OBJECT_HANDLE, Arc<Object>>,
    handles: HashMap<Identity, CK_OBJECT_HANDLE>,
    /// The DKEK status was asked (once per insertion).
    pub dkek_checked: bool,
    /// Counter for `Identity::Session`.
    next_session_object: u64,
}

impl ObjectStore {
    pub fn get(&self, handle: CK_OBJECT_HANDLE) -> Option<Arc<Object>> {
        self.objects.get(&handle).cloned()
    }

    pub fn by_identity(&self, id: Identity) -> Option<Arc<Object>> {
        self.handles.get(&id).and_then(|h| self.get(*h))
    }

    /// The handle of an identity, allocating one from `new_handle` the first time.
    pub fn handle_for(
        &mut self,
        id: Identity,
        new_handle: impl FnOnce() -> CK_OBJECT_HANDLE,
    ) -> CK_OBJECT_HANDLE {
        *self.handles.entry(id).or_insert_with(new_handle)
    }

    /// Puts an object (new or changed) under its handle.
    pub fn put(&mut self, obj: Object) -> CK_OBJECT_HANDLE {
        let h = obj.handle;
        self.handles.insert(obj.identity, h);
        self.objects.insert(h, Arc::new(obj));
        h
    }

    /// Builds and stores an object for `id`, keeping its handle if it had one.
    pub fn upsert(
        &mut self,
        id: Identity,
        owner: Option<CK_SESSION_HANDLE>,
        body: Body,
        new_handle: impl FnOnce() -> CK_OBJECT_HANDLE,
    ) -> CK_OBJECT_HANDLE {
        let handle = self.handle_for(id, new_handle);
        self.put(Object {
            handle,
            identity: id,
            owner,
            body,
        })
    }

    /// Forgets an object and its handle.
    pub fn remove(&mut self, id: Identity) {
        if let Some(h) = self.handles.remove(&id) {
            self.objects.remove(&h);
        }
    }

    pub fn next_session_identity(&mut self) -> Identity {
        self.next_session_object += 1;
        Identity::Session(self.next_session_object)
    }

    /// A closed session's objects go with it.
    pub fn remove_session_objects(&mut self, session: CK_SESSION_HANDLE) {
        let gone: Vec<Identity> = self
            .objects
            .values()
            .filter(|o| o.owner == Some(session))
            .map(|o| o.identity)
            .collect();
        for id in gone {
            self.remove(id);
        }
    }

    /// After logout: private data read with the user PIN is dropped from memory.
    pub fn forget_private_values(&mut self) {
        let private: Vec<Arc<Object>> = self
            .objects
            .values()
            .filter(|o| matches!(&o.body, Body::Data(d) if d.private && d.value.is_some() && o.owner.is_none()))
            .cloned()
            .collect();
        for o in private {
            let mut o = (*o).clone();
            if let Body::Data(d) = &mut o.body {
                d.value = None;
            }
            self.put(o);
        }
    }

    /// Records that files exist (after our own writes) or not (after deletes).
    pub fn note_written(&mut self, fid: Fid, content: Option<Vec<u8>>) {
        if let Some(fids) = &mut self.fids {
            match content {
                Some(_) => fids.insert(fid),
                None => fids.remove(&fid),
            };
        }
        self.files.insert(fid, content.map(Arc::new));
    }

    /// Whether a file exists, as far as the last ENUMERATE and our own writes know.
    pub fn has_file(&self, fid: Fid) -> bool {
        match self.files.get(&fid) {
            Some(c) => c.is_some(),
            None => self.fids.as_ref().is_some_and(|f| f.contains(&fid)),
        }
    }

    pub fn file(&self, fid: Fid) -> Option<Arc<Vec<u8>>> {
        self.files.get(&fid).cloned().flatten()
    }
}
