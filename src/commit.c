/*-------------------------------------------------------------------------
 *
 * commit.c
 *	  Early lock release: a transaction that holds a tenant-wide lock (the
 *	  numbering row of issue(), the head of the audit chain) lets it go
 *	  once its commit record is in the WAL, and waits for the WAL flush
 *	  after that, before its client hears COMMIT.
 *
 * A tenant's issue() calls, and its audited writers at commit, run one at
 * a time: each holds the tenant's lock until its transaction ends.  With
 * synchronous_commit on, a transaction ends only after the WAL flush of
 * its commit record, so every issue() of a busy tenant also waited for the
 * previous one's flush, and the tenant could never issue faster than its
 * disk flushes one at a time.
 *
 * The flush does not need the lock.  Once the commit record is inserted
 * the transaction cannot abort any more, and the WAL is flushed in order:
 * whoever takes the lock next writes its own commit record after ours, so
 * whenever its commit is durable, ours is too.  A crash before the flush
 * loses both, and the numbers and the chain stay whole.  So such a
 * transaction commits with synchronous_commit = off for its own commit
 * record (SET LOCAL, undone at its end), which releases the locks right
 * after the record is inserted, and then flushes the WAL up to that record
 * in the AFTER_LOCKS phase of the commit, before the client is answered.
 * The client's guarantee is unchanged: COMMIT returns once the commit is
 * on disk.  Waiters queue behind the lock, not behind the disk, and their
 * flushes can share one write.
 *
 * What it costs: another session may see the committed rows up to one WAL
 * flush before they are durable (as it would see those of any transaction
 * with synchronous_commit = off).  It is done only when another session
 * is waiting for the committing one at that moment (see someone_waits()).
 * When synchronous replication is set up (synchronous_standby_names), the
 * commit also waits for the standbys, and nothing is changed: the locks are
 * held until the end as before.  The superuser setting
 * invoice.early_lock_release = off turns it off.  SHOW
 * invoice.early_lock_releases counts the session's early releases.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "replication/syncrep.h"
#include "storage/lock.h"
#include "utils/guc.h"
#include "utils/resowner.h"

#include "commit.h"

/* invoice.early_lock_release */
static bool early_lock_release = true;

/* the transaction took a tenant-wide lock */
static bool release_wanted = false;

/* it committed with synchronous_commit = off and owes its flush */
static bool flush_owed = false;

/* invoice.early_lock_releases: this session's commits that released early */
static int	early_releases_guc = 0;
static int64 early_releases = 0;

/*
 * commit_release_early
 *		Called when a tenant-wide lock was taken: release it at commit as
 *		soon as the commit record is written.
 */
void
commit_release_early(void)
{
	release_wanted = true;
}

/*
 * waits_for_local_flush_only
 *		Would this commit wait for the local WAL flush and for nothing else?
 */
static bool
waits_for_local_flush_only(void)
{
	if (synchronous_commit == SYNCHRONOUS_COMMIT_LOCAL_FLUSH)
		return true;
	return synchronous_commit > SYNCHRONOUS_COMMIT_OFF &&
		(SyncRepStandbyNames == NULL || SyncRepStandbyNames[0] == '\0');
}

/*
 * someone_waits
 *		Is a session waiting for this transaction to end?  Whoever waits
 *		for a row it locked (directly, or first in the queue of that row)
 *		waits on its transaction id.  With nobody waiting, releasing early
 *		gains nothing and costs something: an asynchronous commit wakes the
 *		WAL writer, whose flush of the completed pages can come before ours
 *		and make the commit wait for two flushes instead of one.
 */
static bool
someone_waits(void)
{
	TransactionId xid = GetTopTransactionIdIfAny();
	LOCKTAG		tag;

	if (!TransactionIdIsValid(xid))
		return false;
	SET_LOCKTAG_TRANSACTION(tag, xid);
	return LockHasWaiters(&tag, ExclusiveLock, false);
}

static void
commit_xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			if (release_wanted && early_lock_release && waits_for_local_flush_only() &&
				someone_waits())
			{
				(void) set_config_option("synchronous_commit", "off",
										 PGC_USERSET, PGC_S_SESSION,
										 GUC_ACTION_LOCAL, true, 0, false);
				flush_owed = true;
				early_releases++;
				elog(DEBUG1, "invoice: another session waits; locks released before the WAL flush");
			}
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			release_wanted = flush_owed = false;
			break;
		default:
			break;
	}
}

/*
 * commit_release_callback
 *		After the locks of a committed transaction are released: flush the
 *		WAL up to its commit record.  Called once per resource owner; the
 *		first call flushes.
 */
static void
commit_release_callback(ResourceReleasePhase phase, bool isCommit,
						bool isTopLevel, void *arg)
{
	if (phase != RESOURCE_RELEASE_AFTER_LOCKS || !isTopLevel)
		return;
	if (isCommit && flush_owed)
		XLogFlush(XactLastCommitEnd);
	release_wanted = flush_owed = false;
}

/*
 * show_early_releases
 *		SHOW invoice.early_lock_releases: the count, which no one sets.
 */
static const char *
show_early_releases(void)
{
	static char buf[32];

	snprintf(buf, sizeof(buf), INT64_FORMAT, early_releases);
	return buf;
}

void
commit_init(void)
{
	DefineCustomBoolVariable("invoice.early_lock_release",
							 "Releases a tenant's numbering and audit locks before the commit's WAL flush.",
							 "The committing client still waits for the flush; off holds the locks until it is done.",
							 &early_lock_release,
							 true,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);
	DefineCustomIntVariable("invoice.early_lock_releases",
							"Shows how many of this session's commits released a tenant's locks before their WAL flush.",
							NULL,
							&early_releases_guc,
							0, 0, INT_MAX,
							PGC_INTERNAL,
							GUC_NOT_IN_SAMPLE | GUC_DISALLOW_IN_FILE,
							NULL, NULL, show_early_releases);
	RegisterXactCallback(commit_xact_callback, NULL);
	RegisterResourceReleaseCallback(commit_release_callback, NULL);
}
