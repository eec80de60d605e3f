/*-------------------------------------------------------------------------
 *
 * checks.c
 *	  CHECK constraints prepared once per backend.
 *
 * For every statement that writes a table, PostgreSQL reads the table's
 * CHECK constraints back from their stored text, plans them and builds
 * their expression states (ExecRelCheck); for the API's short statements
 * that is a tenth of an invoice's CPU.  While an API function runs its
 * statements, an ExecutorStart hook gives each result table states
 * prepared once per backend and role instead, the way the type cache keeps
 * a domain's constraints.
 *
 * A kept state is only reused while it is exactly what PostgreSQL would
 * build: every use compares the table's constraints, text by text, with
 * those the states were built from (an ALTER TABLE changes that text), and
 * states are kept only for expressions that call built-in functions alone
 * (a user's function may be replaced, and an immutable one is folded when
 * planned) and that keep nothing in the statement's memory while they run
 * (whole-row variables, hashed IN lists, row tests, domains, sublinks).
 * Other constraints of the same table are prepared for each statement, as
 * PostgreSQL does.  States built for another role are never used: building
 * a state checks the role's EXECUTE right on its functions.
 *
 * Replaced states are freed at the end of the transaction, never while a
 * statement that was given them may still run.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/transam.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "checks.h"
#include "exec.h"

/* the constraints of one table, prepared for one role */
typedef struct CheckSetKey
{
	Oid			relid;
	Oid			userid;
} CheckSetKey;

typedef struct CheckSet
{
	CheckSetKey key;			/* hash key: must be first */
	int			ncheck;
	char	  **ccbin;			/* the text the states were built from */
	ExprState **states;			/* NULL where a constraint is not kept */
	bool		all_kept;		/* no NULL in states */
	MemoryContext cxt;			/* holds all of the above */
} CheckSet;

/* invoice.keep_checks: off prepares every statement's checks again */
static bool keep_checks = true;

static HTAB *check_sets = NULL;
static MemoryContext checks_cxt = NULL;
static ExecutorStart_hook_type prev_executor_start = NULL;

/*
 * not_builtin_function
 *		check_functions_in_node callback: true for a user's function.
 */
static bool
not_builtin_function(Oid funcid, void *context)
{
	return funcid >= FirstGenbkiObjectId;
}

/*
 * unkeepable_walker
 *		True when the expression calls a user's function or holds a node
 *		whose evaluation keeps state in the statement's memory (or one not
 *		reviewed for that): only the nodes listed below are kept.
 */
static bool
unkeepable_walker(Node *node, void *context)
{
	if (node == NULL)
		return false;
	if (check_functions_in_node(node, not_builtin_function, NULL))
		return true;
	switch (nodeTag(node))
	{
		case T_Var:
			/* a whole row's descriptor is built in the query's memory */
			if (((Var *) node)->varattno <= 0)
				return true;
			break;
		case T_ScalarArrayOpExpr:
			/* a hashed IN list builds its table in the query's memory */
			if (OidIsValid(((ScalarArrayOpExpr *) node)->hashfuncid))
				return true;
			break;
		case T_NullTest:
			if (((NullTest *) node)->argisrow)
				return true;
			break;
		case T_List:
		case T_Const:
		case T_FuncExpr:
		case T_OpExpr:
		case T_DistinctExpr:
		case T_NullIfExpr:
		case T_BoolExpr:
		case T_BooleanTest:
		case T_CaseExpr:
		case T_CaseWhen:
		case T_CaseTestExpr:
		case T_CoalesceExpr:
		case T_MinMaxExpr:
		case T_RelabelType:
		case T_CoerceViaIO:
		case T_ArrayExpr:
			break;
		default:
			return true;
	}
	return expression_tree_walker(node, unkeepable_walker, context);
}

/*
 * prepare_kept
 *		The state of one constraint's text, or NULL when it may not be
 *		kept.  The text is checked before planning (planning folds calls
 *		of immutable functions away) and after (planning may add nodes).
 */
static ExprState *
prepare_kept(const char *ccbin)
{
	Node	   *expr = stringToNode(ccbin);
	Expr	   *planned;

	if (unkeepable_walker(expr, NULL))
		return NULL;
	planned = expression_planner((Expr *) expr);
	if (unkeepable_walker((Node *) planned, NULL))
		return NULL;
	return ExecInitExpr(planned, NULL);
}

/*
 * set_matches
 *		True while the table's constraints are those the set was built from.
 */
static bool
set_matches(const CheckSet *set, const TupleConstr *constr)
{
	if (set->ncheck != constr->num_check)
		return false;
	for (int i = 0; i < set->ncheck; i++)
		if (strcmp(set->ccbin[i], constr->check[i].ccbin) != 0)
			return false;
	return true;
}

/*
 * set_build
 *		Prepares the constraints of `rel` into `set`.  It is built in the
 *		transaction's memory, which an error frees; the caller moves it to
 *		the cache once it is whole and has its place in the hash table.
 */
static void
set_build(CheckSet *set, Relation rel)
{
	TupleConstr *constr = rel->rd_att->constr;
	int			n = constr->num_check;
	MemoryContext cxt = AllocSetContextCreate(CurTransactionContext,
											  "invoice check set",
											  ALLOCSET_SMALL_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	char	  **ccbin = palloc(sizeof(char *) * n);
	ExprState **states = palloc0(sizeof(ExprState *) * n);
	bool		all_kept = true;

	/* copied first: building may process invalidations */
	for (int i = 0; i < n; i++)
		ccbin[i] = pstrdup(constr->check[i].ccbin);
	for (int i = 0; i < n; i++)
	{
		states[i] = prepare_kept(ccbin[i]);
		all_kept = all_kept && states[i] != NULL;
	}
	MemoryContextSwitchTo(old);

	MemoryContextCopyAndSetIdentifier(cxt, RelationGetRelationName(rel));
	set->ncheck = n;
	set->ccbin = ccbin;
	set->states = states;
	set->all_kept = all_kept;
	set->cxt = cxt;
}

void
checks_give(ResultRelInfo *rri, EState *estate)
{
	Relation	rel = rri->ri_RelationDesc;
	TupleConstr *constr = rel->rd_att->constr;
	CheckSetKey key;
	CheckSet   *set;
	bool		found;
	MemoryContext old;
	ExprState **states;

#if PG_VERSION_NUM >= 180000
	/* ExecRelCheck skips constraints NOT ENFORCED there: not reviewed */
	return;
#endif
	if (!keep_checks || constr == NULL || constr->num_check == 0 ||
		rri->ri_ConstraintExprs != NULL)
		return;
	if (check_sets == NULL)
	{
		HASHCTL		ctl;

		checks_cxt = AllocSetContextCreate(CacheMemoryContext, "invoice checks",
										   ALLOCSET_SMALL_SIZES);
		ctl.keysize = sizeof(CheckSetKey);
		ctl.entrysize = sizeof(CheckSet);
		ctl.hcxt = checks_cxt;
		check_sets = hash_create("invoice check sets", 32, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}

	memset(&key, 0, sizeof(key));
	key.relid = RelationGetRelid(rel);
	key.userid = GetUserId();
	set = hash_search(check_sets, &key, HASH_FIND, NULL);
	if (set == NULL || !set_matches(set, constr))
	{
		CheckSet	fresh;

		fresh.key = key;
		set_build(&fresh, rel);
		set = hash_search(check_sets, &key, HASH_ENTER, &found);
		/* a statement given the old states may still be running */
		if (found)
			MemoryContextSetParent(set->cxt, TopTransactionContext);
		MemoryContextSetParent(fresh.cxt, checks_cxt);
		*set = fresh;
	}
	if (set->all_kept)
	{
		rri->ri_ConstraintExprs = set->states;
		return;
	}

	/* the others are prepared for this statement, as ExecRelCheck would */
	old = MemoryContextSwitchTo(estate->es_query_cxt);
	states = palloc(sizeof(ExprState *) * set->ncheck);
	for (int i = 0; i < set->ncheck; i++)
		states[i] = set->states[i] != NULL ? set->states[i] :
			ExecPrepareExpr((Expr *) stringToNode(set->ccbin[i]), estate);
	MemoryContextSwitchTo(old);
	rri->ri_ConstraintExprs = states;
}

/*
 * checks_executor_start
 *		Gives the result tables of an API statement their kept constraints.
 */
static void
checks_executor_start(QueryDesc *queryDesc, int eflags)
{
	EState	   *estate;
	ListCell   *lc;

	if (prev_executor_start)
		prev_executor_start(queryDesc, eflags);
	else
		standard_ExecutorStart(queryDesc, eflags);

	if (!keep_checks || !api_active() || (eflags & EXEC_FLAG_EXPLAIN_ONLY) != 0)
		return;
	estate = queryDesc->estate;
	if (estate->es_result_relations == NULL)
		return;
	foreach(lc, queryDesc->plannedstmt->resultRelations)
	{
		ResultRelInfo *rri = estate->es_result_relations[lfirst_int(lc) - 1];

		if (rri != NULL)
			checks_give(rri, estate);
	}
}

void
checks_init(void)
{
	DefineCustomBoolVariable("invoice.keep_checks",
							 "Keeps the API's tables' CHECK constraints prepared across statements.",
							 "Off prepares them again for every statement, as PostgreSQL does.",
							 &keep_checks,
							 true,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);
	prev_executor_start = ExecutorStart_hook;
	ExecutorStart_hook = checks_executor_start;
}
