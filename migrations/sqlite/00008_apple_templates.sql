-- +goose Up
-- Every version of a tenant's Apple Wallet template of a pass type (the pass registry's passType): the template's
-- files as a zip (pass.json, images, *.lproj/ folders), checked when it was put. The latest version applies to
-- every pass built afterwards (adapters/apple/templates.go).
CREATE TABLE apple_templates (
    tenant_id            TEXT NOT NULL,
    pass_type            TEXT NOT NULL,
    version              INTEGER NOT NULL,
    pass_type_identifier TEXT NOT NULL,
    template_zip         BLOB NOT NULL,
    created_at           TIMESTAMP NOT NULL,
    PRIMARY KEY (tenant_id, pass_type, version)
);

-- +goose Down
DROP TABLE apple_templates;
