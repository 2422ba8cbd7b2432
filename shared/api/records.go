package api

import (
	"net/http"

	"github.com/dormancy/dormancy/shared/dormancy"
)

// Records: reading, writing, reopening, and the reassignment queue.

type recordView struct {
	RecordID          string            `json:"recordId"`
	Module            string            `json:"module"`
	Status            string            `json:"status"`
	Fields            map[string]string `json:"fields"`
	NeedsReassignment []string          `json:"needsReassignment"`
	Version           int64             `json:"version"`
	UpdatedAt         string            `json:"updatedAt"`
}

func recordOut(rec dormancy.Record) recordView {
	v := recordView{rec.ID, rec.Module, string(rec.Status), rec.Fields, rec.NeedsReassignment, rec.Version, dormancy.FormatTime(rec.UpdatedAt)}
	if v.NeedsReassignment == nil {
		v.NeedsReassignment = []string{}
	}
	if v.Fields == nil {
		v.Fields = map[string]string{}
	}
	return v
}

func recordID(r *http.Request) (string, error) {
	id := r.PathValue("recordId")
	if !dormancy.ValidRecordID(id) {
		return "", invalid("recordId %q is not a valid record id", id)
	}
	return id, nil
}

func (a *API) getRecord(w http.ResponseWriter, r *http.Request, c Caller) error {
	id, err := recordID(r)
	if err != nil {
		return err
	}
	rec, err := a.store.GetRecord(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, recordOut(rec))
	return nil
}

type recordBody struct {
	Module  string            `json:"module"`
	Status  string            `json:"status"`
	Fields  map[string]string `json:"fields"`
	Version int64             `json:"version"` // 0 creates; else the version being replaced
}

func (a *API) putRecord(w http.ResponseWriter, r *http.Request, c Caller) error {
	id, err := recordID(r)
	if err != nil {
		return err
	}
	var b recordBody
	if err := decode(w, r, maxBody, &b); err != nil {
		return err
	}
	rec := dormancy.Record{ID: id, Module: b.Module, Status: dormancy.RecordStatus(b.Status), Fields: b.Fields}
	if rec.Fields == nil {
		rec.Fields = map[string]string{}
	}
	if err := rec.Validate(); err != nil {
		return err
	}
	if b.Version < 0 {
		return invalid("version must be 0 (create) or the version being replaced")
	}
	if b.Version > 0 {
		old, err := a.store.GetRecord(r.Context(), id)
		if err != nil {
			return err
		}
		rec.NeedsReassignment = old.NeedsReassignment
	}
	stored, err := a.store.PutRecord(r.Context(), rec, b.Version, a.now())
	if err != nil {
		return err
	}
	code := http.StatusOK
	if b.Version == 0 {
		code = http.StatusCreated
	}
	writeJSON(w, code, recordOut(stored))
	return nil
}

func (a *API) reopen(w http.ResponseWriter, r *http.Request, c Caller) error {
	id, err := recordID(r)
	if err != nil {
		return err
	}
	rec, cleared, err := a.store.Reopen(r.Context(), id, c.UserID, a.now())
	if err != nil {
		return err
	}
	var ids []string
	for _, c := range cleared {
		ids = append(ids, c.Event.ID)
	}
	a.sendOwed(r, ids)
	writeJSON(w, http.StatusOK, recordOut(rec))
	return nil
}

func (a *API) listRecords(w http.ResponseWriter, r *http.Request, c Caller) error {
	if r.URL.Query().Get("needsReassignment") != "true" {
		return invalid("records are listed by the reassignment queue: add needsReassignment=true")
	}
	limit, err := limitParam(r, 25, 100)
	if err != nil {
		return err
	}
	p, err := a.store.ReassignmentQueue(r.Context(), int32(limit), r.URL.Query().Get("cursor"))
	if err != nil {
		return err
	}
	out := []recordView{}
	for _, rec := range p.Records {
		out = append(out, recordOut(rec))
	}
	writeJSON(w, http.StatusOK, map[string]any{"records": out, "cursor": p.Cursor})
	return nil
}
