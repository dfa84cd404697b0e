"""The results of closed pulses: from a close to the kept rows the API and feeds read.

    revisions  what makes results due, and the pulse locks that order a close and writers
    publisher  the background thread (and ``pulse publish``) that computes due pulses
    publish    a pulse's results computed and kept, once per set of inputs
    ledger     a pulse's cells: its first publication, then revisions of it
    reads      the kept scores and warning signs, as the API shows them
    assessments  the comparisons of recent pulses, kept in memory for rule changes
    collector  the cyclic garbage collector, paused while a publication runs

The path of a result, from a close to a kept ``ScoreCell`` row:

1. Something a closed pulse's results depend on changes. A pulse closes
   (``services.structure.close_pulse``, or new dates that close it:
   ``update_pulse``; both first wait on ``revisions.closing``), or closes by date with
   nobody asking. A closed pulse's responses change: a late upload
   (``services.responses.ingest``, or ``pulse import`` through ``ledger.revise_late``)
   or an erasure (``services.responses.erase``) calls ``revisions.revise_pulse``, which
   moves the pulse's ``revision``. The rulebook changes: ``publish.replace_rules`` calls
   ``revisions.revise``.
2. Results are marked due: ``revisions.results_due`` notes it in ``Session.info``
   (``app.db.RESULTS_DUE``); once the request's session commits, ``app.db.get_session``
   nudges the ``publisher.Publisher``, which otherwise looks again every ``interval``
   seconds (for pulses that close by date). A close and a new rulebook mark it
   ``at_once`` (``app.db.RESULTS_AT_ONCE``): the publisher starts without waiting for the
   rest of a burst.
3. The publisher picks due pulses: ``publisher.publish_pending`` asks ``publisher.pending``
   for each system's ``RECENT`` latest closed pulses whose kept ``Publication.inputs`` is
   not their ``publish.inputs_key`` now, and computes each in a transaction of its own:
   ``publish.publish`` (PostgreSQL, under a per-system advisory lock), or
   ``publish.compute`` in a read transaction then ``publish.keep`` (SQLite).
4. Publish computes (``publish._compute``), for the pulse and the few before it:
   ``ledger.plan`` makes the pulse's first publication (``ledger._first``: the structure
   and k as they stand, the disclosure decision of ``app.analysis.published``) or a
   revision when its responses changed (``ledger._revision``:
   ``app.analysis.disclosure.ledger.revision_cells`` given every earlier edition), or
   nothing when it is current. The warning signs then read the kept cells, those planned
   or else the stored ``ScoreCell`` rows (``publish._kept_cells``), and make no
   disclosure decision of their own: ``app.analysis.signs.assessment`` makes every
   comparison the cells allow, and ``grade`` applies the rulebook. With no edition due,
   the assessment is the one kept in memory for those cells (``assessments``, filled by
   ``publish.kept_assessment`` and, when nothing is due, ``publisher.warm_recent``).
5. Publish keeps (``publish._write``; the editions through ``_keep_editions``), per plan:
   ``ledger.write`` adds the edition (``PublicationEdition``), updates the ``Publication``
   record and marks the responses the edition included (``Response.published_in``);
   ``publish._sync_cells`` makes the pulse's ``ScoreCell`` rows equal the plan's cells.
   (On PostgreSQL a first publication has written them already, by a COPY in its text
   format that ``ledger._first`` fed place by place while it decided the next places:
   ``publish._cell_streams``; and the assessment of step 4 is made in a thread while the
   editions are kept.) Then ``publish._sync_flags`` makes the ``WarningSign`` rows equal
   the flags, and the ``Publication`` keeps the inputs digest. Rows that did not change
   keep their ``updated_at``. With an edition written, the assessment made from its cells
   is kept in memory once the transaction commits.
6. Kept rows are read: ``reads.scores`` and ``reads.list_flags`` (the insights
   endpoints) and ``services.feeds`` (the BI feeds, through ``feeds.publish_closed``)
   first call ``publish.publish``, which does nothing when the results are current (and
   computes them when the publisher has not), then read the ``ScoreCell`` and
   ``WarningSign`` rows.

Everything else imports from these modules; this package exports nothing of its own.
"""
