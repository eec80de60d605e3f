-- test/upgrade/catalog.sql: one sorted line per property of every object of
-- the invoice extension (functions, relations, columns, constraints,
-- indexes, triggers, policies, grants, comments, sequences, statistics
-- targets, configuration tables), with nothing that depends on OIDs, so
-- that two databases can be compared with diff.
WITH ext AS (
	SELECT oid FROM pg_catalog.pg_extension WHERE extname = 'invoice'
), members AS (
	SELECT d.classid, d.objid FROM pg_catalog.pg_depend d, ext
	 WHERE d.refclassid = 'pg_catalog.pg_extension'::regclass
	   AND d.refobjid = ext.oid AND d.deptype = 'e'
), rels AS (
	SELECT c.* FROM pg_catalog.pg_class c
	 WHERE c.relnamespace = 'invoice'::regnamespace
), lines AS (
	SELECT 'function ' || p.oid::regprocedure::text || ' returns ' ||
		   pg_catalog.pg_get_function_result(p.oid) ||
		   ' args(' || pg_catalog.pg_get_function_arguments(p.oid) || ')' ||
		   ' lang ' || l.lanname || ' vol ' || p.provolatile::text || ' strict ' || p.proisstrict ||
		   ' secdef ' || p.prosecdef || ' parallel ' || p.proparallel::text ||
		   ' leakproof ' || p.proleakproof || ' cost ' || p.procost || ' rows ' || p.prorows ||
		   ' config ' || coalesce(p.proconfig::text, '-') ||
		   ' src ' || pg_catalog.md5(p.prosrc) || ' bin ' || coalesce(p.probin, '-') ||
		   ' acl ' || coalesce(p.proacl::text, '-') AS line
	  FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_language l ON l.oid = p.prolang
	 WHERE p.pronamespace = 'invoice'::regnamespace
	UNION ALL
	SELECT 'member function ' || objid::regprocedure::text FROM members
	 WHERE classid = 'pg_catalog.pg_proc'::regclass
	UNION ALL
	SELECT 'member relation ' || objid::regclass::text FROM members
	 WHERE classid = 'pg_catalog.pg_class'::regclass
	UNION ALL
	SELECT 'member ' || pg_catalog.pg_describe_object(classid, objid, 0) FROM members
	 WHERE classid NOT IN ('pg_catalog.pg_proc'::regclass, 'pg_catalog.pg_class'::regclass)
	UNION ALL
	SELECT 'relation ' || c.oid::regclass::text || ' kind ' || c.relkind::text ||
		   ' persistence ' || c.relpersistence::text || ' rls ' || c.relrowsecurity ||
		   ' forcerls ' || c.relforcerowsecurity || ' ispartition ' || c.relispartition ||
		   ' bound ' || coalesce(pg_catalog.pg_get_expr(c.relpartbound, c.oid), '-') ||
		   ' partkey ' || coalesce(pg_catalog.pg_get_partkeydef(c.oid), '-') ||
		   ' options ' || coalesce(c.reloptions::text, '-') ||
		   ' acl ' || coalesce(c.relacl::text, '-') ||
		   ' owner ' || c.relowner::regrole::text
	  FROM rels c
	UNION ALL
	SELECT 'column ' || c.oid::regclass::text || '.' || a.attnum || ' ' || a.attname || ' ' ||
		   pg_catalog.format_type(a.atttypid, a.atttypmod) || ' notnull ' || a.attnotnull ||
		   ' default ' || coalesce(pg_catalog.pg_get_expr(d.adbin, d.adrelid), '-') ||
		   ' dropped ' || a.attisdropped || ' stats ' || a.attstattarget ||
		   ' storage ' || a.attstorage::text || ' compression ' || coalesce(nullif(a.attcompression::text, ''), '-') ||
		   ' collation ' || coalesce(nullif(a.attcollation, 0)::regcollation::text, '-') ||
		   ' identity ' || coalesce(nullif(a.attidentity::text, ''), '-') ||
		   ' generated ' || coalesce(nullif(a.attgenerated::text, ''), '-') ||
		   ' acl ' || coalesce(a.attacl::text, '-')
	  FROM rels c JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
	  LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
	 WHERE c.relkind::text IN ('r', 'p', 'v', 'm', 'f', 'c')
	UNION ALL
	SELECT 'constraint ' || co.conrelid::regclass::text || ' ' || co.conname || ' ' ||
		   pg_catalog.pg_get_constraintdef(co.oid) || ' deferrable ' || co.condeferrable ||
		   ' deferred ' || co.condeferred || ' validated ' || co.convalidated
	  FROM pg_catalog.pg_constraint co
	 WHERE co.connamespace = 'invoice'::regnamespace
	UNION ALL
	SELECT 'index ' || pg_catalog.pg_get_indexdef(i.indexrelid)
	  FROM pg_catalog.pg_index i JOIN rels c ON c.oid = i.indexrelid
	UNION ALL
	SELECT 'trigger ' || t.tgrelid::regclass::text || ' ' || pg_catalog.pg_get_triggerdef(t.oid) ||
		   ' enabled ' || t.tgenabled::text
	  FROM pg_catalog.pg_trigger t JOIN rels c ON c.oid = t.tgrelid
	 WHERE NOT t.tgisinternal OR t.tgparentid <> 0
	UNION ALL
	SELECT 'policy ' || p.schemaname || '.' || p.tablename || ' ' || p.policyname || ' ' ||
		   p.permissive || ' ' || p.roles::text || ' ' || p.cmd || ' using ' ||
		   coalesce(p.qual, '-') || ' check ' || coalesce(p.with_check, '-')
	  FROM pg_catalog.pg_policies p WHERE p.schemaname = 'invoice'
	UNION ALL
	SELECT 'comment ' || pg_catalog.pg_describe_object(d.classoid, d.objoid, d.objsubid) || ': ' || d.description
	  FROM pg_catalog.pg_description d
	 WHERE (d.classoid = 'pg_catalog.pg_proc'::regclass AND d.objoid IN
				(SELECT oid FROM pg_catalog.pg_proc WHERE pronamespace = 'invoice'::regnamespace))
		OR (d.classoid = 'pg_catalog.pg_class'::regclass AND d.objoid IN (SELECT oid FROM rels))
		OR (d.classoid = 'pg_catalog.pg_namespace'::regclass AND d.objoid = 'invoice'::regnamespace)
	UNION ALL
	SELECT 'sequence ' || s.seqrelid::regclass::text || ' ' || pg_catalog.format_type(s.seqtypid, NULL) ||
		   ' start ' || s.seqstart || ' inc ' || s.seqincrement || ' min ' || s.seqmin ||
		   ' max ' || s.seqmax || ' cache ' || s.seqcache || ' cycle ' || s.seqcycle
	  FROM pg_catalog.pg_sequence s JOIN rels c ON c.oid = s.seqrelid
	UNION ALL
	SELECT 'view ' || c.oid::regclass::text || ' ' || pg_catalog.pg_get_viewdef(c.oid)
	  FROM rels c WHERE c.relkind::text IN ('v', 'm')
	UNION ALL
	SELECT 'config ' || x.cfg::regclass::text || ' where ' || coalesce(x.cond, '-')
	  FROM pg_catalog.pg_extension e,
		   LATERAL unnest(e.extconfig, e.extcondition) AS x(cfg, cond)
	 WHERE e.extname = 'invoice'
	UNION ALL
	SELECT 'schema invoice acl ' || coalesce(n.nspacl::text, '-') || ' owner ' || n.nspowner::regrole::text
	  FROM pg_catalog.pg_namespace n WHERE n.nspname = 'invoice'
	UNION ALL
	SELECT 'extension ' || e.extname || ' version ' || e.extversion || ' relocatable ' || e.extrelocatable
	  FROM pg_catalog.pg_extension e WHERE e.extname = 'invoice'
	UNION ALL
	-- what the extension's objects use outside pg_catalog and invoice
	-- (another extension's objects are fine; public's are not)
	SELECT 'depends on ' || pg_catalog.pg_describe_object(d.refclassid, d.refobjid, 0) || ' (from ' ||
		   pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid) || ')'
	  FROM pg_catalog.pg_depend d
	 WHERE d.refclassid IN ('pg_catalog.pg_proc'::regclass, 'pg_catalog.pg_operator'::regclass,
							'pg_catalog.pg_type'::regclass)
	   AND d.classid IN ('pg_catalog.pg_constraint'::regclass, 'pg_catalog.pg_attrdef'::regclass,
						 'pg_catalog.pg_policy'::regclass, 'pg_catalog.pg_rewrite'::regclass,
						 'pg_catalog.pg_class'::regclass, 'pg_catalog.pg_trigger'::regclass,
						 'pg_catalog.pg_proc'::regclass)
	   AND coalesce((SELECT o.oprnamespace FROM pg_catalog.pg_operator o WHERE d.refclassid = 'pg_catalog.pg_operator'::regclass AND o.oid = d.refobjid),
					(SELECT p.pronamespace FROM pg_catalog.pg_proc p WHERE d.refclassid = 'pg_catalog.pg_proc'::regclass AND p.oid = d.refobjid),
					(SELECT t.typnamespace FROM pg_catalog.pg_type t WHERE d.refclassid = 'pg_catalog.pg_type'::regclass AND t.oid = d.refobjid))
		   NOT IN ('pg_catalog'::regnamespace, 'invoice'::regnamespace)
	   AND (d.classid, d.objid) IN (
			SELECT 'pg_catalog.pg_constraint'::regclass, oid FROM pg_catalog.pg_constraint WHERE connamespace = 'invoice'::regnamespace
			UNION ALL SELECT 'pg_catalog.pg_attrdef'::regclass, ad.oid FROM pg_catalog.pg_attrdef ad JOIN rels c ON c.oid = ad.adrelid
			UNION ALL SELECT 'pg_catalog.pg_policy'::regclass, po.oid FROM pg_catalog.pg_policy po JOIN rels c ON c.oid = po.polrelid
			UNION ALL SELECT 'pg_catalog.pg_rewrite'::regclass, rw.oid FROM pg_catalog.pg_rewrite rw JOIN rels c ON c.oid = rw.ev_class
			UNION ALL SELECT 'pg_catalog.pg_class'::regclass, oid FROM rels
			UNION ALL SELECT 'pg_catalog.pg_trigger'::regclass, tg.oid FROM pg_catalog.pg_trigger tg JOIN rels c ON c.oid = tg.tgrelid
			UNION ALL SELECT 'pg_catalog.pg_proc'::regclass, oid FROM pg_catalog.pg_proc WHERE pronamespace = 'invoice'::regnamespace)
)
SELECT line FROM lines ORDER BY line COLLATE "C";
