using System.Text;
using Automations.Api.QueueItems;
using static Automations.Api.WebConsole.Html;

namespace Automations.Api.WebConsole;

/// <summary>Launch queues and their items, grouped by state.</summary>
public static class QueuePages
{
    public static RouteGroupBuilder MapQueuePages(this RouteGroupBuilder g)
    {
        g.MapGet("/queues", QueuesAsync);
        return g;
    }

    private static async Task<IResult> QueuesAsync(HttpContext http, ConsoleApi api, string? state)
    {
        var s = http.Session();
        var entityApi = $"/v1/entities/{ConsoleApi.Seg(s.Entity)}";
        var queues = await api.GetAsync(s.Key, entityApi + "/queues", http.RequestAborted);
        if (!queues.Ok) return Error(http, (int)queues.Status, "Launch queues", queues.Detail, s);
        if (state is not null && !QueueItemsEndpoints.States.Contains(state, StringComparer.Ordinal)) state = null;
        var stateOptions = new List<(string, string)> { ("", "all states") };
        stateOptions.AddRange(QueueItemsEndpoints.States.Select(x => (x, x)));
        var sb = new StringBuilder();
        sb.Append($"""
            <form method="get" class="filter" aria-label="Filter">{Select("State", "state", "state", state, stateOptions, null, "state")}<button type="submit">Show</button></form>
            """);
        var any = false;
        var reach = "";
        foreach (var q in Items(queues.Body))
        {
            any = true;
            var items = await api.GetAsync(s.Key, $"{entityApi}/queues/{Str(q, "id")}/items?limit=100{(state is null ? "" : "&state=" + state)}", http.RequestAborted);
            if (reach.Length == 0 && items.Ok) reach = Reach(items.Body);
            var list = items.Ok && items.Body.TryGetProperty("items", out var il) ? Items(il).ToList() : [];
            sb.Append($"""<section aria-labelledby="q-{E(q, "id")}"><h2 id="q-{E(q, "id")}">{E(q, "name")}</h2><p>{E(q, "description")}</p>""");
            if (!items.Ok) sb.Append($"""<p class="error">{E(items.Detail)}</p>""");
            else if (list.Count == 0) sb.Append("<p>No items.</p>");
            foreach (var group in list.GroupBy(i => Str(i, "state")).OrderBy(gr => Array.IndexOf(QueueItemsEndpoints.States, gr.Key)))
            {
                sb.Append($"""<h3>{E(group.Key)} ({group.Count()})</h3><div class="table"><table class="stack"><thead><tr><th scope="col">Created</th><th scope="col">Job</th><th scope="col">Project</th><th scope="col">Agent</th><th scope="col">Outcome</th></tr></thead><tbody>""");
                foreach (var i in group)
                {
                    var job = i.TryGetProperty("job", out var j) ? $"{Str(j, "name")} v{Str(j, "version")}" : "";
                    var outcome = Str(i, "exitCode").Length > 0 ? "exit " + Str(i, "exitCode") : Str(i, "failureReason");
                    sb.Append($"""<tr><td data-label="Created">{Time(i, "createdAt")}</td><td data-label="Job">{E(job)}</td><td data-label="Project">{E(i, "project")}{(Str(i, "targetProject").Length > 0 ? " → " + E(i, "targetProject") : "")}</td><td data-label="Agent">{E(i, "claimedBy")}</td><td data-label="Outcome">{E(outcome)}</td></tr>""");
                }
                sb.Append("</tbody></table></div>");
            }
            sb.Append("</section>");
        }
        if (!any) sb.Append("<p>No launch queues yet. An admin creates them with the API (POST /v1/entities/{entity}/queues).</p>");
        // Finished items are history; queued and running ones stay until they finish.
        if (reach.Length > 0) sb.Insert(0, reach);
        return Page(http, "Launch queues", sb.ToString(), s);
    }
}
