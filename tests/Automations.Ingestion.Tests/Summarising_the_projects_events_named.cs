using System.Net;
using Automations.Ingestion.Events;
using Dapper;
using Microsoft.Extensions.DependencyInjection;

namespace Automations.Ingestion.Tests;

/// <summary>
/// ingestion.projects (the Api's project list reads it through ingestion.event_projects): kept by a periodic refresh
/// that reads only the events since the last one, not by a write per event nor a scan of the history per read.
/// </summary>
public class Summarising_the_projects_events_named(IngestionFixture fx) : IClassFixture<IngestionFixture>
{
    private async Task<DateTime?> LastEventAtAsync(string entity, string project)
    {
        await using var c = await fx.DataSource.OpenConnectionAsync();
        return await c.QuerySingleOrDefaultAsync<DateTime?>(
            "select last_event_at from ingestion.event_projects where entity = @entity and project = @project", new { entity, project });
    }

    private static object EventIn(string project) => new
    {
        eventId = Guid.NewGuid().ToString(), eventType = "CREATE_ARTIFACT", entity = "acme", project, collection = "model",
        occurredAt = DateTimeOffset.UtcNow,
    };

    [Fact]
    public async Task Should_list_a_new_project_after_a_refresh_and_move_its_last_event()
    {
        var project = "sum-" + Guid.NewGuid().ToString("N")[..8];
        var summary = fx.Ingestion.Services.GetServices<Microsoft.Extensions.Hosting.IHostedService>().OfType<ProjectSummary>().Single();

        using (var first = await fx.PostEventAsync(EventIn(project), fx.ProducerKey))
            Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        Assert.True(await summary.RefreshAsync(CancellationToken.None) >= 1);
        var listed = await LastEventAtAsync("acme", project);
        Assert.NotNull(listed);

        // Nothing new: the next refresh moves nothing of this project.
        await summary.RefreshAsync(CancellationToken.None);
        Assert.Equal(listed, await LastEventAtAsync("acme", project));

        using (var second = await fx.PostEventAsync(EventIn(project), fx.ProducerKey))
            Assert.Equal(HttpStatusCode.Accepted, second.StatusCode);
        await summary.RefreshAsync(CancellationToken.None);
        Assert.True(await LastEventAtAsync("acme", project) > listed);
    }

    [Fact]
    public async Task Should_drop_a_project_whose_newest_event_is_older_than_the_history()
    {
        var project = "old-" + Guid.NewGuid().ToString("N")[..8];
        await using (var c = await fx.DataSource.OpenConnectionAsync())
            await c.ExecuteAsync("insert into ingestion.projects (entity, project, last_event_at) values ('acme', @project, now() - interval '31 days')", new { project });
        Assert.NotNull(await LastEventAtAsync("acme", project));

        var summary = fx.Ingestion.Services.GetServices<Microsoft.Extensions.Hosting.IHostedService>().OfType<ProjectSummary>().Single();
        await summary.RefreshAsync(CancellationToken.None);

        Assert.Null(await LastEventAtAsync("acme", project));
    }

    [Fact]
    public async Task Should_find_recent_events_by_a_brin_index_on_every_partition()
    {
        // The refresh reads events by received_at: each partition (those retention creates ahead included) has the BRIN
        // index of the partitioned table, so the read is of the recent block ranges, not of the whole history.
        await using var c = await fx.DataSource.OpenConnectionAsync();
        var partitions = await c.QueryAsync<(string Partition, bool HasBrin)>(
            """
            select p.relname, exists (select from pg_index x join pg_class ic on ic.oid = x.indexrelid join pg_am am on am.oid = ic.relam
                                      where x.indrelid = p.oid and am.amname = 'brin')
            from pg_inherits i join pg_class p on p.oid = i.inhrelid
            where i.inhparent = 'ingestion.events'::regclass
            """);
        Assert.True(partitions.Count() > 1);
        Assert.All(partitions, p => Assert.True(p.HasBrin, p.Partition));
    }
}
