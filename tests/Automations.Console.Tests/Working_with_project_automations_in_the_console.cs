using System.Net;
using System.Text.Json;
using Automations.Contracts;
using Automations.Persistence.Outbox;
using Automations.Testing;
using Dapper;
using OpenQA.Selenium;

namespace Automations.Console.Tests;

/// <summary>
/// Projects, a project's Automations tab (trigger in words, row menu, team automations marked), an automation's page
/// (launch overrides, run history filtered by status and time, request beside response, Redeliver) and Team
/// automations, in the console of its own (headless Chromium against the real Api and WebhookSender).
/// </summary>
[Collection("browser")]
public class Working_with_project_automations_in_the_console(TeamSettingsFixture fx) : IClassFixture<TeamSettingsFixture>
{
    private Browser B => fx.Browser;

    private static string Unique(string prefix) => prefix + Guid.NewGuid().ToString("N")[..6];

    /// <summary>An event as Ingestion stores it (this fixture runs no Ingestion).</summary>
    private async Task AddEventAsync(string entity, string project)
    {
        await using var c = await fx.DataSource.OpenConnectionAsync();
        await c.ExecuteAsync(
            """
            insert into ingestion.events (id, entity, event_id, event_type, project, collection, occurred_at, received_at, source)
            values (gen_random_uuid(), @entity, gen_random_uuid()::text, 'CREATE_ARTIFACT', @project, 'model', now(), now(), 'http')
            """, new { entity, project });
        // What Ingestion's ProjectSummary does every few seconds.
        await c.ExecuteAsync("select ingestion.refresh_projects(interval '30 days')");
    }

    private async Task<(Guid Id, string Name)> WebhookAutomationAsync(string project, string hook, string type = "CREATE_ARTIFACT", string? path = null)
    {
        var name = Unique("notify-");
        object ev = type == "ADD_ARTIFACT_ALIAS" ? new { type, aliasRegex = "prod" } : new { type, collection = "mnist-model" };
        var a = await fx.CreateAsync(path ?? $"/v1/entities/acme/projects/{project}/automations", new
        {
            name,
            @event = ev,
            action = new { type = "webhook", webhook = hook, payload = """{"v":"${artifact_version_string}"}""" },
        });
        return (a.GetProperty("id").GetGuid(), name);
    }

    private async Task<string> WebhookAsync(string path)
    {
        var hook = Unique("hook ");
        await fx.CreateAsync("/v1/entities/acme/webhooks", new { name = hook, url = fx.Receiver.Url(path) });
        return hook;
    }

    private void OpenMenu(Guid id) => B.Find($"#automation-{id} details.menu summary").Click();

    [Fact]
    public async Task Should_list_the_projects_with_events_or_automations_and_open_a_projects_automations_tab()
    {
        var withAutomation = Unique("proj-a-");
        var withEvents = Unique("proj-e-");
        var otherTeams = Unique("proj-g-");
        var hook = await WebhookAsync("/projects");
        await WebhookAutomationAsync(withAutomation, hook);
        await AddEventAsync("acme", withEvents);
        await AddEventAsync("globex", otherTeams);

        B.SignInToConsole(fx.AdminKey);
        B.Follow(B.Driver.FindElement(By.LinkText("Projects")), "/acme/projects");
        Assert.Equal("/acme/projects", B.Path0);
        Assert.Equal("Projects", B.Title);
        var table = B.Text("#projects");
        Assert.Contains(withAutomation, table);
        Assert.Contains(withEvents, table);
        Assert.DoesNotContain(otherTeams, table);
        // Issue 25, point 5: projects are chosen from a list, never typed.
        Assert.Empty(B.FindAll("main input"));
        B.Screenshot("projects");

        B.Follow(B.Driver.FindElement(By.LinkText(withEvents)), $"/acme/projects/{withEvents}/automations");
        Assert.Equal($"/acme/projects/{withEvents}/automations", B.Path0);
        Assert.Equal(withEvents, B.Title);
        Assert.Equal("page", B.Find(".tabs a[aria-current]").GetAttribute("aria-current"));
        // Its own: none (team automations of the other tests may apply to it, marked as such).
        Assert.Empty(B.FindAll("#automations tbody tr[data-scope=project]"));
        Assert.EndsWith($"/acme/projects/{withEvents}/automations/new", B.Find("#new-automation").GetAttribute("href"));

        B.Follow(B.Driver.FindElement(By.LinkText("Team automations")), "/acme/automations");
        Assert.Equal("/acme/automations", B.Path0);
        Assert.EndsWith("/acme/automations/new", B.Find("#new-automation").GetAttribute("href"));
    }

    [Fact]
    public async Task Should_say_triggers_in_words_and_disable_enable_and_delete_with_one_message_each()
    {
        var project = Unique("tab-");
        var hook = await WebhookAsync("/tab");
        var (created, createdName) = await WebhookAutomationAsync(project, hook);
        var (aliased, _) = await WebhookAutomationAsync(project, hook, "ADD_ARTIFACT_ALIAS");
        var (team, teamName) = await WebhookAutomationAsync(project, hook, path: "/v1/entities/acme/automations");

        B.SignInToConsole(fx.AdminKey);
        var tab = $"/acme/projects/{project}/automations";
        B.Go(tab);
        Assert.Equal("A new version is added to a collection", B.Find($"#automation-{created} .trigger").Text);
        Assert.Equal("An alias is added", B.Find($"#automation-{aliased} .trigger").Text);
        Assert.DoesNotContain("CREATE_ARTIFACT", B.Find("main").Text);
        Assert.DoesNotContain("ADD_ARTIFACT_ALIAS", B.Find("main").Text);
        var teamRow = B.Find($"#automation-{team}");
        Assert.Equal("team", teamRow.FindElement(By.CssSelector(".badge.team")).Text);
        Assert.Empty(teamRow.FindElements(By.CssSelector("details.menu")));
        Assert.EndsWith($"/acme/automations/{team}", teamRow.FindElement(By.LinkText(teamName)).GetAttribute("href"));
        B.Screenshot("project-automations");

        OpenMenu(created);
        B.Screenshot("project-automations-menu");
        B.Submit(B.Find($"#automation-{created} button[aria-label='Disable {createdName}']"));
        Assert.Equal(tab, B.Path0);
        Assert.Equal("disabled", B.Find($"#automation-{created} .badge.off").Text);
        var message = Assert.Single(B.FindAll(".message"));
        Assert.Equal($"automation-{created}-message", message.GetAttribute("id"));
        Assert.Contains($"Automation {createdName} disabled", message.Text);
        B.Driver.Navigate().Refresh();
        Assert.Empty(B.FindAll(".message"));

        // By keyboard: the menu opens with Enter on its summary, the button submits with Enter.
        B.Find($"#automation-{created} details.menu summary").SendKeys(Keys.Enter);
        B.Submit(B.Find($"#automation-{created} button[aria-label='Enable {createdName}']"), Keys.Enter);
        Assert.Equal("enabled", B.Find($"#automation-{created} .badge.on").Text);
        Assert.Contains("enabled", Assert.Single(B.FindAll(".message")).Text);

        OpenMenu(created);
        B.Follow(B.Find($"#automation-{created} a[aria-label='Delete {createdName}']"), $"{tab}/{created}/delete");
        Assert.Equal($"{tab}/{created}/delete", B.Path0);
        Assert.Contains(createdName, B.Text("#confirm-h"));
        B.Screenshot("automation-delete-confirm");
        B.Submit("#confirm-delete");
        Assert.Equal(tab, B.Path0);
        Assert.Equal($"Automation {createdName} deleted.", Assert.Single(B.FindAll(".message")).Text);
        Assert.Empty(B.FindAll($"#automation-{created}"));
        using var gone = await fx.CallAsync(HttpMethod.Get, $"/v1/entities/acme/projects/{project}/automations/{created}");
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
    }

    [Fact]
    public async Task Should_show_a_launch_automations_job_queue_and_overrides()
    {
        var project = Unique("launch-");
        var jobName = Unique("retrain-");
        var job = await fx.CreateAsync("/v1/entities/acme/jobs", new { name = jobName });
        await fx.CreateAsync($"/v1/entities/acme/jobs/{job.GetProperty("id").GetGuid()}/versions", new { command = "python", args = new[] { "train.py" } });
        var queue = Unique("gpu-");
        await fx.CreateAsync("/v1/entities/acme/queues", new { name = queue });
        var a = await fx.CreateAsync($"/v1/entities/acme/projects/{project}/automations", new
        {
            name = Unique("retrain on alias "),
            @event = new { type = "ADD_ARTIFACT_ALIAS", aliasRegex = "^prod$" },
            action = new { type = "launch", job = jobName, jobVersion = 1, queue, overrides = new { lr = 0.01, epochs = 3 } },
        });

        B.SignInToConsole(fx.MemberKey);
        B.Go($"/acme/projects/{project}/automations/{a.GetProperty("id").GetGuid()}");
        Assert.Contains("An alias is added", B.Text("#filter"));
        Assert.Contains("^prod$", B.Text("#filter"));
        Assert.Contains($"{jobName} v1", B.Text("#action"));
        Assert.Contains(queue, B.Text("#action"));
        var overrides = B.Text("#overrides");
        Assert.Contains("\"lr\": 0.01", overrides);
        Assert.Contains("\"epochs\": 3", overrides);
        B.Screenshot("automation-launch");

        // A member changes a project's automation from its page too: one message there.
        B.Submit("#toggle");
        Assert.Equal("disabled", B.Text("#enabled"));
        Assert.Contains("disabled", Assert.Single(B.FindAll(".message")).Text);
        Assert.Equal("automation-message", B.Find(".message").GetAttribute("id"));
        foreach (var field in new[] { "filter-status", "filter-since", "filter-until" })
            Assert.NotEmpty(B.Find($"label[for={field}]").Text);
    }

    [Fact]
    public async Task Should_filter_runs_by_status_and_time_show_request_beside_response_and_redeliver()
    {
        var project = Unique("hist-");
        var path = "/history/" + Guid.NewGuid().ToString("N");
        var secret = Unique("HIST_TOKEN_").ToUpperInvariant();
        const string secretValue = "hist-secret-value-42";
        await fx.CreateAsync("/v1/entities/acme/secrets", new { name = secret, value = secretValue });
        var hook = await WebhookAsync(path);
        var webhookId = (await fx.CreateAsync("/v1/entities/acme/webhooks", new { name = hook + " b", url = fx.Receiver.Url(path) })).GetProperty("id").GetGuid();
        var a = await fx.CreateAsync($"/v1/entities/acme/projects/{project}/automations", new
        {
            name = Unique("history "),
            @event = new { type = "CREATE_ARTIFACT", collection = "mnist-model" },
            action = new { type = "webhook", webhook = hook + " b", payload = "{\"v\":\"${artifact_version_string}\",\"token\":\"${" + secret + "}\"}" },
        });
        var automationId = a.GetProperty("id").GetGuid();

        // What Rules records for two matched events: one now (its command relayed to the real sender, which delivers it),
        // one three days ago whose delivery failed (as the sender would have recorded it).
        var (newRun, oldRun, commandId, failedDelivery) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        var payload = "{\"v\":\"mnist-model:v3\",\"token\":\"${" + secret + "}\"}";
        await using (var c = await fx.DataSource.OpenConnectionAsync())
        {
            await using var tx = await c.BeginTransactionAsync();
            await c.ExecuteAsync(
                """
                insert into rules.runs (id, automation_id, automation_name, entity, project, event_id, producer_event_id, event_type, event, action_type, webhook_id, command_id, payload, status, created_at)
                values (@newRun, @automationId, 'history', 'acme', @project, gen_random_uuid(), 'p-new', 'CREATE_ARTIFACT',
                        jsonb_build_object('eventType', 'CREATE_ARTIFACT', 'collection', 'mnist-model', 'versionIndex', 3), 'webhook', @webhookId, @commandId, @payload, 'Finished', now()),
                       (@oldRun, @automationId, 'history', 'acme', @project, gen_random_uuid(), 'p-old', 'CREATE_ARTIFACT',
                        jsonb_build_object('eventType', 'CREATE_ARTIFACT', 'collection', 'mnist-model', 'versionIndex', 2), 'webhook', @webhookId, gen_random_uuid(), '{"v":"mnist-model:v2"}', 'Failed', now() - interval '3 days');
                insert into delivery.deliveries (id, command_id, run_id, event_id, automation_id, entity, project, webhook_id, payload, status, attempts, max_attempts, occurred_at)
                values (@failedDelivery, gen_random_uuid(), @oldRun, gen_random_uuid(), @automationId, 'acme', @project, @webhookId, '{"v":"mnist-model:v2"}', 'failed', 1, 1, now() - interval '3 days');
                insert into delivery.attempts (delivery_id, number, started_at, duration_ms, status_code, response_headers, response_body, response_masked)
                values (@failedDelivery, 1, now() - interval '3 days', 20.0, 503, '{"retry-after":"60"}', 'upstream down', true);
                """, new { newRun, oldRun, automationId, project, webhookId, commandId, payload, failedDelivery }, tx);
            await OutboxWriter.AddAsync(c, tx, "delivery", new SendWebhook(commandId, newRun, Guid.NewGuid(), automationId, "acme", project, webhookId, payload, DateTimeOffset.UtcNow), commandId);
            await tx.CommitAsync();
        }
        await Eventually.TrueAsync(() => Task.FromResult(fx.Receiver.On(path).Count == 1), "the delivery reached the receiver", TimeSpan.FromSeconds(30));
        await Eventually.TrueAsync(async () =>
        {
            await using var c = await fx.DataSource.OpenConnectionAsync();
            return await c.ExecuteScalarAsync<string>("select status from delivery.deliveries where command_id = @commandId", new { commandId }) == "succeeded";
        }, "the delivery succeeded", TimeSpan.FromSeconds(30));

        B.SignInToConsole(fx.AdminKey);
        var page = $"/acme/projects/{project}/automations/{automationId}";
        B.Go(page);
        Assert.StartsWith("History is kept for 30 days (since ", B.Text(".reach"));
        Assert.Equal(2, B.FindAll("#runs tbody tr").Count);
        Assert.Contains("A new version is added to a collection · mnist-model:v3", B.Text($"#run-{newRun}"));

        // Request beside response: the payload with the secret as ${NAME}, the receiver's status and body.
        B.Find($"#run-{newRun} details.delivery summary").Click();
        var exchange = B.Find($"#run-{newRun} .exchange");
        Assert.Contains("${" + secret + "}", exchange.FindElement(By.CssSelector(".request-body")).Text);
        Assert.Contains(fx.Receiver.Url(path), exchange.FindElement(By.CssSelector(".request")).Text);
        Assert.Contains("HTTP 201", exchange.FindElement(By.CssSelector(".response")).Text);
        Assert.Equal("dispatched by the receiver", exchange.FindElement(By.CssSelector(".response-body")).Text);
        Assert.DoesNotContain(secretValue, B.Source);
        B.Screenshot("automation-history");

        // Filters: by status, by time, and a window the wrong way round said at its field.
        B.ChooseValue("#filter-status", "Failed");
        B.ClickAndWait("#apply-filter");
        Assert.Equal(oldRun.ToString(), Assert.Single(B.FindAll("#runs tbody tr")).GetAttribute("id")!["run-".Length..]);
        Assert.Equal("Failed", B.Find("#filter-status option[selected]").Text);
        B.Go($"{page}?since={Uri.EscapeDataString(DateTime.UtcNow.AddDays(-1).ToString("yyyy-MM-ddTHH:mm"))}");
        Assert.Equal($"run-{newRun}", Assert.Single(B.FindAll("#runs tbody tr")).GetAttribute("id"));
        B.Go($"{page}?since=2026-11-27T10:00&until=2026-11-27T09:00");
        Assert.Contains("To must be after", B.Text("#filter-until-error"));
        Assert.Equal("true", B.Find("#filter-until").GetAttribute("aria-invalid"));
        Assert.DoesNotContain("/v1/", B.Find("main").Text);
        B.Go($"{page}?status=<script>&before=not-a-run");
        Assert.Contains("Status must be one of", B.Text("#filter-status-error"));
        B.Go($"{page}?before={Guid.NewGuid()}");
        Assert.Equal(page, B.Path0);
        Assert.Equal(2, B.FindAll("#runs tbody tr").Count);
        B.Go($"{page}?status=Failed&since=nonsense");
        Assert.Contains("From must be a date and time", B.Text("#filter-since-error"));
        B.Screenshot("automation-history-filter-error");

        // Redeliver one: back on the same page, one message by its run; the receiver gets it again.
        B.Go(page);
        B.Submit(B.Find($"#run-{newRun} button.secondary"));
        Assert.Equal(page, B.Path0);
        Assert.Contains("Redelivery requested", Assert.Single(B.FindAll(".message")).Text);
        Assert.Equal($"run-{newRun}-message", B.Find(".message").GetAttribute("id"));
        await Eventually.TrueAsync(() => Task.FromResult(fx.Receiver.On(path).Count == 2), "the redelivery reached the receiver", TimeSpan.FromSeconds(30));

        // Redeliver all failed: the old failed delivery goes again.
        B.Submit("#redeliver-failed button");
        Assert.Equal("Redelivery of 1 failed delivery requested.", Assert.Single(B.FindAll(".message")).Text);
        await Eventually.TrueAsync(() => Task.FromResult(fx.Receiver.On(path).Any(r => r.BodyText == """{"v":"mnist-model:v2"}""")),
            "the failed delivery was sent again", TimeSpan.FromSeconds(30));
        B.Driver.Navigate().Refresh();
        Assert.Empty(B.FindAll(".message"));
    }

    [Fact]
    public async Task Should_let_members_read_team_automations_without_admin_actions_and_hide_another_teams_pages()
    {
        var project = Unique("mem-");
        var hook = await WebhookAsync("/member");
        var (team, teamName) = await WebhookAutomationAsync(project, hook, path: "/v1/entities/acme/automations");
        var (own, _) = await WebhookAutomationAsync(project, hook);

        B.SignInToConsole(fx.MemberKey);
        B.Go("/acme/automations");
        Assert.Contains(teamName, B.Text("#automations"));
        Assert.Empty(B.FindAll("details.menu"));
        Assert.Empty(B.FindAll("#new-automation"));
        Assert.Contains("Only team admins", B.Text("#scope-note"));
        B.Screenshot("team-automations-member");
        B.Go($"/acme/automations/{team}");
        Assert.Equal(teamName, B.Title);
        Assert.Empty(B.FindAll("main form[method=post]"));
        B.Go($"/acme/projects/{project}/automations/{own}");
        Assert.Empty(B.FindAll("#redeliver-failed"));

        using (var member = fx.ConsoleClient(B.Cookies()))
        {
            using var delete = await member.GetAsync($"/acme/automations/{team}/delete");
            Assert.Equal(HttpStatusCode.Forbidden, delete.StatusCode);
            Assert.DoesNotContain("confirm-delete", await delete.Content.ReadAsStringAsync());
        }

        B.SignInToConsole(fx.GlobexKey);
        using var globex = fx.ConsoleClient(B.Cookies());
        foreach (var other in new[] { "/acme/projects", $"/acme/projects/{project}/automations", $"/acme/projects/{project}/automations/{own}", "/acme/automations", $"/acme/automations/{team}" })
        {
            using var answer = await globex.GetAsync(other);
            Assert.Equal(HttpStatusCode.NotFound, answer.StatusCode);
            Assert.DoesNotContain(teamName, await answer.Content.ReadAsStringAsync());
        }
        foreach (var missing in new[] { $"/globex/projects/{project}/automations/{own}", "/globex/projects/not%20a%20project/automations", $"/globex/automations/{Guid.NewGuid()}" })
        {
            using var answer = await globex.GetAsync(missing);
            Assert.Equal(HttpStatusCode.NotFound, answer.StatusCode);
        }
    }
}
