using System.Net;
using Automations.Testing;
using Dapper;
using OpenQA.Selenium;

namespace Automations.Console.Tests;

/// <summary>The console in headless Chromium against the real Api, WebhookSender, database and broker.</summary>
[Collection("browser")]
public class Using_the_console(ConsoleFixture fx) : IClassFixture<ConsoleFixture>
{
    private Browser B => fx.Browser;

    private static string Unique(string prefix) => prefix + Guid.NewGuid().ToString("N")[..6];

    [Fact]
    public async Task Should_let_an_admin_add_a_secret_and_a_webhook_and_test_it_against_a_receiver()
    {
        B.SignIn(fx.AdminKey);
        Assert.Equal("/console/acme/projects", B.Path0);

        var secret = Unique("DISPATCH_TOKEN_").ToUpperInvariant();
        const string secretValue = "ghp-console-secret-value-123";
        B.Go("/console/acme/settings/secrets");
        B.Screenshot("secrets-empty");
        B.Fill("#secret-name", secret);
        B.Fill("#secret-value", secretValue);
        B.ClickAndWait("#new-secret button[type=submit]");
        Assert.Contains(secret, B.Text("#secrets"));
        Assert.DoesNotContain(secretValue, B.Source);
        B.Screenshot("secrets");

        var hook = Unique("github dispatch ");
        var path = "/dispatches/" + Guid.NewGuid().ToString("N");
        B.Go("/console/acme/settings/webhooks");
        B.Fill("#webhook-name", hook);
        B.Fill("#webhook-url", fx.Receiver.Url(path));
        B.ChooseValue("#webhook-token", secret);
        B.Screenshot("webhooks-new");
        B.ClickAndWait("#new-webhook button[type=submit]");
        var row = B.FindAll("#webhooks tbody tr").Single(r => r.Text.Contains(hook, StringComparison.Ordinal));
        Assert.Contains(secret, row.Text);
        B.Screenshot("webhooks");

        B.ClickAndWait(row.FindElement(By.LinkText("Test")));
        B.SetValue("#payload", "{\"event_type\": \"TEST\", \"token\": \"${" + secret + "}\"}");
        B.ClickAndWait("#test-webhook button[type=submit]");
        B.Screenshot("webhook-test");

        Assert.Equal("201", B.Text("#test-status"));
        Assert.Equal("success", B.Text("#test-outcome"));
        Assert.Equal("dispatched by the receiver", B.Text("#test-response-body"));
        Assert.Contains("console-test", B.Text("#test-result"));
        Assert.Contains("********", B.Text("#test-request-body"));
        Assert.DoesNotContain(secretValue, B.Source);
        var received = Assert.Single(fx.Receiver.On(path));
        Assert.Contains(secretValue, received.BodyText);
        Assert.Equal("Bearer " + secretValue, received.Headers["Authorization"]);
        var logs = string.Join("\n", fx.Logs.Lines);
        Assert.Contains("/console/acme/settings/webhooks", logs);
        Assert.DoesNotContain(secretValue, logs);
        Assert.DoesNotContain(fx.AdminKey, logs);
    }

    [Fact]
    public async Task Should_create_list_disable_and_delete_a_webhook_automation()
    {
        var hook = Unique("deploy hook ");
        await fx.CreateAsync("/v1/entities/acme/webhooks", new { name = hook, url = fx.Receiver.Url("/deploy") });
        var project = Unique("mnist-");
        var name = Unique("dispatch on new model ");

        B.SignIn(fx.AdminKey);
        B.Go($"/console/acme/projects/{project}/automations");
        Assert.Contains("No automations", B.Source);
        B.ClickAndWait(B.Driver.FindElement(By.LinkText("New automation")));

        B.ChooseValue("#event-type", "CREATE_ARTIFACT");
        Assert.True(B.Find("#collection").Displayed);
        Assert.False(B.Find("#alias-regex").Displayed);
        B.Fill("#collection", "mnist-model");
        Assert.True(B.Find("#payload").Displayed);
        Assert.False(B.Find("#queue").Displayed);
        B.ChooseValue("#webhook", hook);
        Assert.Contains("\"client_payload\"", B.Find("#payload").GetAttribute("value"));
        Assert.Contains("${artifact_version_string}", B.Text("#payload-hint"));
        B.Fill("#automation-name", name);
        B.Screenshot("automation-new");

        // A template naming an unknown secret is refused by the API; the console shows why next to the editor.
        var payload = B.Find("#payload").GetAttribute("value")!;
        B.SetValue("#payload", payload.Replace("${entity_name}", "${NO_SUCH_SECRET}", StringComparison.Ordinal));
        B.ClickAndWait("#new-automation button[type=submit]");
        Assert.Contains("NO_SUCH_SECRET", B.Text("#payload-error"));
        B.Screenshot("automation-new-invalid");
        B.SetValue("#payload", payload);
        B.ClickAndWait("#new-automation button[type=submit]");

        Assert.Equal($"/console/acme/projects/{project}/automations", B.Path0);
        var row = B.FindAll("#automations tbody tr").Single(r => r.Text.Contains(name, StringComparison.Ordinal));
        var cells = row.FindElements(By.TagName("td")).Select(c => c.Text).ToArray();
        Assert.Equal([name, "CREATE_ARTIFACT", "webhook", hook, "", "enabled"], cells[..6]);
        B.Screenshot("automations");
        await using (var c = await fx.DataSource.OpenConnectionAsync())
        {
            var stored = await c.QuerySingleAsync<(bool Enabled, string Payload)>(
                "select enabled, payload from control.automations where project = @project and name = @name", new { project, name });
            Assert.True(stored.Enabled);
            Assert.Contains("\"event_type\": \"${event_type}\"", stored.Payload);
        }

        row.FindElement(By.TagName("summary")).Click();
        B.ClickAndWait(row.FindElement(By.CssSelector("button[name=toggle]")));
        row = B.FindAll("#automations tbody tr").Single(r => r.Text.Contains(name, StringComparison.Ordinal));
        Assert.Contains("disabled", row.Text);
        await using (var c = await fx.DataSource.OpenConnectionAsync())
            Assert.False(await c.ExecuteScalarAsync<bool>("select enabled from control.automations where project = @project and name = @name", new { project, name }));

        B.ClickAndWait(row.FindElement(By.TagName("a")));
        Assert.Equal(name, B.Title);
        Assert.Contains("No runs yet", B.Source);
        B.Screenshot("automation-detail");
        B.Go($"/console/acme/projects/{project}/automations");

        row = B.FindAll("#automations tbody tr").Single(r => r.Text.Contains(name, StringComparison.Ordinal));
        row.FindElement(By.TagName("summary")).Click();
        B.ClickAndWait(row.FindElement(By.LinkText("Delete")));
        Assert.Contains(name, B.Text("#confirm-h"));
        B.Screenshot("automation-delete");
        await using (var c = await fx.DataSource.OpenConnectionAsync())
            Assert.Equal(1, await c.ExecuteScalarAsync<int>("select count(*) from control.automations where project = @project", new { project }));
        B.ClickAndWait("#confirm-delete");
        Assert.Equal($"/console/acme/projects/{project}/automations", B.Path0);
        Assert.DoesNotContain(name, B.Source);
        await using (var c = await fx.DataSource.OpenConnectionAsync())
            Assert.Equal(0, await c.ExecuteScalarAsync<int>("select count(*) from control.automations where project = @project", new { project }));
    }

    [Fact]
    public async Task Should_offer_team_secrets_when_dollar_is_typed_and_note_a_bare_secret_name_on_save()
    {
        var secret = Unique("DEPLOY_KEY_").ToUpperInvariant();
        const string secretValue = "never-shown-secret-value";
        await fx.CreateAsync("/v1/entities/acme/secrets", new { name = secret, value = secretValue });
        var hook = Unique("bare hook ");
        await fx.CreateAsync("/v1/entities/acme/webhooks", new { name = hook, url = fx.Receiver.Url("/bare") });
        var project = Unique("bare-");

        B.SignIn(fx.AdminKey);
        B.Go($"/console/acme/projects/{project}/automations/new");
        B.ChooseValue("#event-type", "ADD_ARTIFACT_ALIAS");
        Assert.Contains("prod matches production", B.Text("#alias-regex-hint"));
        Assert.Contains("^prod$", B.Text("#alias-regex-hint"));
        B.Fill("#alias-regex", "^prod");
        B.ChooseValue("#webhook", hook);
        B.SetValue("#payload", "");
        var editor = B.Find("#payload");
        editor.SendKeys("{\"auth\":\"$" + secret[..8]);
        Assert.True(B.Find("#payload-complete").Displayed);
        Assert.Equal("${" + secret + "} secret", B.Text("#payload-complete li[aria-selected=true]"));
        B.Screenshot("automation-new-complete");
        editor.SendKeys(Keys.Enter);
        Assert.False(B.Find("#payload-complete").Displayed);
        editor.SendKeys("\"}");
        Assert.Equal("{\"auth\":\"${" + secret + "}\"}", editor.GetAttribute("value"));
        Assert.DoesNotContain(secretValue, B.Source);

        // The same name without braces is saved, with a note saying what will be sent.
        var name = Unique("bare secret ");
        B.SetValue("#payload", "{\"auth\":\"$" + secret + "\"}");
        B.Fill("#automation-name", name);
        B.ClickAndWait("#new-automation button[type=submit]");
        Assert.Equal("Automation saved", B.Title);
        Assert.Contains($"`${secret}` is sent as the text `${secret}`", B.Text("#saved-warnings"));
        B.Screenshot("automation-saved-warning");
        await using (var c = await fx.DataSource.OpenConnectionAsync())
            Assert.Equal(("^prod", "{\"auth\":\"$" + secret + "\"}"), await c.QuerySingleAsync<(string, string)>(
                "select alias_regex, payload from control.automations where project = @project and name = @name", new { project, name }));
        B.ClickAndWait(B.Driver.FindElement(By.LinkText("Open the automation")));
        Assert.Equal(name, B.Title);

        // A member is offered the variables only: secret names are for admins.
        B.SignIn(fx.MemberKey);
        B.Go($"/console/acme/projects/{project}/automations/new");
        Assert.DoesNotContain(secret, B.Find("#payload").GetAttribute("data-complete"));
        B.SetValue("#payload", "");
        editor = B.Find("#payload");
        editor.SendKeys("{\"who\":\"$event_a");
        Assert.Equal("${event_author} variable", B.Text("#payload-complete li[aria-selected=true]"));
        editor.SendKeys(Keys.Tab);
        Assert.Equal("{\"who\":\"${event_author}", editor.GetAttribute("value"));
    }

    [Fact]
    public async Task Should_create_a_jobs_automation_with_the_wizard()
    {
        var job = await fx.CreateAsync("/v1/entities/acme/jobs", new { name = Unique("retrain-") });
        var jobName = job.GetProperty("name").GetString()!;
        await fx.CreateAsync($"/v1/entities/acme/jobs/{job.GetProperty("id").GetGuid()}/versions", new { command = "python", args = new[] { "train.py" } });
        var queue = Unique("gpu-");
        await fx.CreateAsync("/v1/entities/acme/queues", new { name = queue });
        var project = Unique("vision-");
        var name = Unique("retrain on production alias ");

        B.SignIn(fx.MemberKey);
        B.Go($"/console/acme/projects/{project}/automations/new");
        B.ChooseValue("#event-type", "ADD_ARTIFACT_ALIAS");
        Assert.False(B.Find("#collection").Displayed);
        B.Fill("#alias-regex", "^production$");
        B.Find("input[name=actionType][value=launch]").Click();
        Assert.False(B.Find("#payload").Displayed);
        B.ChooseValue("#job", jobName);
        B.Fill("#job-version", "1");
        B.SetValue("#overrides", "{\"epochs\": 3}");
        B.Fill("#target-project", "vision-training");
        B.ChooseValue("#queue", queue);
        B.Fill("#automation-name", name);
        B.Screenshot("automation-new-jobs");
        B.ClickAndWait("#new-automation button[type=submit]");

        Assert.Equal($"/console/acme/projects/{project}/automations", B.Path0);
        var row = B.FindAll("#automations tbody tr").Single(r => r.Text.Contains(name, StringComparison.Ordinal));
        var cells = row.FindElements(By.TagName("td")).Select(c => c.Text).ToArray();
        Assert.Equal([name, "ADD_ARTIFACT_ALIAS", "launch", jobName, queue, "enabled"], cells[..6]);
        await using var c = await fx.DataSource.OpenConnectionAsync();
        var stored = await c.QuerySingleAsync<(string AliasRegex, int JobVersion, string TargetProject, string Overrides)>(
            "select alias_regex, job_version, target_project, overrides::text from control.automations where project = @project and name = @name", new { project, name });
        Assert.Equal(("^production$", 1, "vision-training"), (stored.AliasRegex, stored.JobVersion, stored.TargetProject));
        Assert.Contains("\"epochs\": 3", stored.Overrides);
    }

    [Fact]
    public async Task Should_let_an_admin_edit_a_webhook_and_show_why_a_used_one_cannot_be_deleted()
    {
        var hook = Unique("edited hook ");
        var created = await fx.CreateAsync("/v1/entities/acme/webhooks", new { name = hook, url = fx.Receiver.Url("/before") });
        var project = Unique("users-");
        await fx.CreateAsync($"/v1/entities/acme/projects/{project}/automations", new
        {
            name = "uses the hook",
            @event = new { type = "CREATE_ARTIFACT", collection = "c" },
            action = new { type = "webhook", webhook = hook, payload = "{}" },
        });

        B.SignIn(fx.AdminKey);
        B.Go("/console/acme/settings/webhooks");
        var row = B.FindAll("#webhooks tbody tr").Single(r => r.Text.Contains(hook, StringComparison.Ordinal));
        B.ClickAndWait(row.FindElement(By.LinkText("Edit")));
        Assert.Equal(fx.Receiver.Url("/before"), B.Find("#webhook-url").GetAttribute("value"));
        B.Fill("#webhook-url", "ftp://example.com/hook");
        B.ClickAndWait("#edit-webhook button[type=submit]");
        Assert.NotEmpty(B.Text("#webhook-url-error"));
        B.Screenshot("webhook-edit-invalid");
        B.Fill("#webhook-url", fx.Receiver.Url("/after"));
        B.ClickAndWait("#edit-webhook button[type=submit]");
        Assert.Equal("/console/acme/settings/webhooks", B.Path0);
        await using (var c = await fx.DataSource.OpenConnectionAsync())
            Assert.Equal(fx.Receiver.Url("/after"), await c.ExecuteScalarAsync<string>("select url from control.webhooks where id = @id", new { id = created.GetProperty("id").GetGuid() }));

        row = B.FindAll("#webhooks tbody tr").Single(r => r.Text.Contains(hook, StringComparison.Ordinal));
        var html = B.Find("html");
        row.FindElement(By.CssSelector("button.danger")).Click();
        B.Driver.SwitchTo().Alert().Accept();
        await Eventually.TrueAsync(() => Task.FromResult(IsStale(html)), "the page reloaded", TimeSpan.FromSeconds(30));
        Assert.Contains($"{project}/uses the hook", B.Text("div.error"));
        await using (var c = await fx.DataSource.OpenConnectionAsync())
            Assert.Equal(1, await c.ExecuteScalarAsync<int>("select count(*) from control.webhooks where id = @id", new { id = created.GetProperty("id").GetGuid() }));
    }

    private static bool IsStale(IWebElement e)
    {
        try { _ = e.TagName; return false; }
        catch (StaleElementReferenceException) { return true; }
    }

    [Fact]
    public async Task Should_not_let_a_member_reach_the_secrets_form()
    {
        B.SignIn(fx.MemberKey);
        Assert.Equal("/console/acme/projects", B.Path0);
        Assert.Empty(B.FindAll("header a[href='/console/acme/settings/secrets']"));

        B.Go("/console/acme/settings/secrets");
        Assert.Equal("Forbidden", B.Title);
        Assert.Empty(B.FindAll("#new-secret"));
        B.Screenshot("member-secrets-forbidden");

        B.Go("/console/acme/settings/webhooks");
        Assert.Empty(B.FindAll("#new-webhook"));
        Assert.Contains("Only team admins", B.Source);

        using var http = fx.CookieClient(B.Cookie("automations.console"));
        using var page = await http.GetAsync("/console/acme/settings/secrets");
        Assert.Equal(HttpStatusCode.Forbidden, page.StatusCode);
        Assert.DoesNotContain("new-secret", await page.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Should_not_open_another_teams_pages_with_a_session_cookie()
    {
        var hook = Unique("acme private hook ");
        await fx.CreateAsync("/v1/entities/acme/webhooks", new { name = hook, url = fx.Receiver.Url("/private") });

        B.SignIn(fx.GlobexKey);
        Assert.Equal("/console/globex/projects", B.Path0);
        B.Go("/console/acme/settings/webhooks");
        Assert.Equal("Not found", B.Title);
        Assert.DoesNotContain(hook, B.Source);
        B.Screenshot("other-team-not-found");

        using var http = fx.CookieClient(B.Cookie("automations.console"));
        foreach (var path in new[] { "/console/acme/settings/webhooks", "/console/acme/settings/secrets", "/console/acme/projects/mnist/automations" })
        {
            using var page = await http.GetAsync(path);
            Assert.Equal(HttpStatusCode.NotFound, page.StatusCode);
            Assert.DoesNotContain(hook, await page.Content.ReadAsStringAsync());
        }
        using var own = await http.GetAsync("/console/globex/settings/webhooks");
        Assert.Equal(HttpStatusCode.OK, own.StatusCode);
    }

    [Fact]
    public void Should_sign_in_with_the_keyboard_alone()
    {
        B.Driver.Manage().Cookies.DeleteAllCookies();
        B.Go("/console/sign-in");
        for (var i = 0; i < 10 && B.Driver.SwitchTo().ActiveElement().GetAttribute("id") != "key"; i++)
            new OpenQA.Selenium.Interactions.Actions(B.Driver).SendKeys(Keys.Tab).Perform();
        var focused = B.Driver.SwitchTo().ActiveElement();
        Assert.Equal("key", focused.GetAttribute("id"));
        Assert.Equal("API key", B.Find("label[for=key]").Text);
        // The focus ring is drawn (an outline of 3px) for keyboard users.
        Assert.Equal("3px", B.Driver.ExecuteScript("return getComputedStyle(document.activeElement).outlineWidth"));
        focused.SendKeys(fx.MemberKey);
        var html = B.Find("html");
        focused.SendKeys(Keys.Enter);
        new OpenQA.Selenium.Support.UI.WebDriverWait(B.Driver, TimeSpan.FromSeconds(30)).Until(_ => IsStale(html));
        Assert.Equal("/console/acme/projects", B.Path0);
    }

    [Fact]
    public async Task Should_refuse_a_form_post_without_the_antiforgery_token()
    {
        B.SignIn(fx.AdminKey);
        var name = Unique("FORGED_").ToUpperInvariant();
        using var http = fx.CookieClient(B.Cookie("automations.console"));
        using var response = await http.PostAsync("/console/acme/settings/secrets",
            new FormUrlEncodedContent(new Dictionary<string, string> { ["name"] = name, ["value"] = "x" }));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        await using var c = await fx.DataSource.OpenConnectionAsync();
        Assert.Equal(0, await c.ExecuteScalarAsync<int>("select count(*) from control.secrets where name = @name", new { name }));
    }

    [Fact]
    public async Task Should_clear_the_session_on_sign_out()
    {
        B.SignIn(fx.AdminKey);
        var cookie = B.Cookie("automations.console");
        Assert.NotNull(cookie);
        var session = B.Driver.Manage().Cookies.GetCookieNamed("automations.console");
        Assert.NotNull(session);
        Assert.True(session.IsHttpOnly);
        Assert.Equal("Strict", session.SameSite);
        Assert.DoesNotContain(fx.AdminKey, session.Value);

        B.ClickAndWait("header form button[type=submit]");
        Assert.Equal("/console/sign-in", B.Path0);
        Assert.Null(B.Cookie("automations.console"));
        B.Screenshot("sign-in");
        B.Go("/console/acme/projects");
        Assert.Equal("/console/sign-in", B.Path0);
        await Task.CompletedTask;
    }

    [Fact]
    public async Task Should_end_the_session_when_the_key_is_revoked()
    {
        var created = await fx.CreateAsync("/v1/entities/acme/keys", new { name = Unique("short lived "), scopes = new[] { "api" }, user = "alice" });
        B.SignIn(created.GetProperty("key").GetString()!);
        Assert.Equal("/console/acme/projects", B.Path0);
        using (await fx.CallAsync(HttpMethod.Delete, $"/v1/entities/acme/keys/{created.GetProperty("id").GetGuid()}")) { }
        B.Go("/console/acme/settings/webhooks");
        Assert.Equal("/console/sign-in", B.Path0);
    }

    [Fact]
    public async Task Should_show_launch_queues_and_projects()
    {
        var queue = await fx.CreateAsync("/v1/entities/acme/queues", new { name = Unique("gpu-"), description = "A100 pool" });
        // Items as LaunchEnqueuer writes them: one waiting, one that ran.
        await using (var c = await fx.DataSource.OpenConnectionAsync())
            await c.ExecuteAsync(
                """
                insert into launch.queue_items (id, command_id, run_id, event_id, automation_id, entity, project, queue_id, job_id, job_name, job_version, event, state, exit_code, claimed_by)
                values (gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), 'acme', 'mnist', @queueId, gen_random_uuid(), 'retrain', 2, '{}', 'queued', null, null),
                       (gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), 'acme', 'mnist', @queueId, gen_random_uuid(), 'retrain', 1, '{}', 'finished', 0, 'agent-7')
                """, new { queueId = queue.GetProperty("id").GetGuid() });
        B.SignIn(fx.AdminKey);
        var before = DateTimeOffset.UtcNow;
        B.Go("/console/acme/queues");
        Assert.Equal("Launch queues", B.Title);
        Assert.Contains(B.Text(".reach"), Reading_run_history.Reach(before, DateTimeOffset.UtcNow));
        Assert.Contains("A100 pool", B.Source);
        var section = B.Find($"section[aria-labelledby='q-{queue.GetProperty("id").GetGuid()}']").Text;
        Assert.Contains("queued (1)", section);
        Assert.Contains("finished (1)", section);
        Assert.Contains("retrain v1", section);
        Assert.Contains("agent-7", section);
        Assert.Contains("exit 0", section);
        B.Screenshot("queues");
        B.Go("/console/acme/projects");
        B.Screenshot("projects");
        Assert.NotEmpty(B.FindAll("label[for=project]"));
    }

    [Fact]
    public void Should_refuse_to_open_a_project_no_event_can_name_saying_the_rule()
    {
        B.SignIn(fx.AdminKey);
        B.Go("/console/acme/projects");
        B.Fill("#project", "x' or 1=1--");
        B.ClickAndWait("form[action='/console/acme/projects'] button[type=submit]");
        Assert.Equal("/console/acme/projects", B.Path0);
        Assert.Contains("letters, digits", B.Text("#project-error"));
    }
}
