-- One sign-in e-mail belongs to one tenant: login looks users up by e-mail alone.
CREATE UNIQUE INDEX users_email ON users (email);
ALTER TABLE users ADD CONSTRAINT users_tenant FOREIGN KEY (tenant_id) REFERENCES tenants (name) ON DELETE CASCADE;
