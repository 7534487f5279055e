using OpenQA.Selenium;
using OpenQA.Selenium.Interactions;

namespace Automations.Console.Tests;

/// <summary>Checks the Launch, Audit and Alerts tests share.</summary>
public static class OpsSteps
{
    public static string Unique(string prefix) => prefix + Guid.NewGuid().ToString("N")[..6];

    /// <summary>Every visible input, select and text area of the page's main part has a label naming it.</summary>
    public static void AssertEveryInputLabelled(this Browser b)
    {
        var fields = b.FindAll("main input:not([type=hidden]), main select, main textarea");
        Assert.NotEmpty(fields);
        foreach (var field in fields)
        {
            var id = field.GetAttribute("id");
            Assert.False(string.IsNullOrEmpty(id), $"an input without an id: {field.GetAttribute("outerHTML")}");
            var label = Assert.Single(b.FindAll($"label[for='{id}']"));
            Assert.False(string.IsNullOrWhiteSpace(label.Text), $"the label of {id} is empty");
        }
    }

    /// <summary>
    /// Follows a link and waits for its page, known by an element only it has: enhanced navigation changes the address
    /// first and swaps the page's content in without a new document.
    /// </summary>
    public static void FollowLink(this Browser b, string css, string path, string ready)
    {
        b.Find(css).Click();
        new OpenQA.Selenium.Support.UI.WebDriverWait(b.Driver, TimeSpan.FromSeconds(60)).Until(_ =>
        {
            try { return b.Path0 == path && b.Driver.ExecuteScript("return document.readyState") as string == "complete" && b.FindAll(ready).Count > 0; }
            catch (WebDriverException) { return false; }
        });
    }

    /// <summary>The element that has the keyboard focus.</summary>
    public static IWebElement Focused(this Browser b) => b.Driver.SwitchTo().ActiveElement();

    /// <summary>Types keys into whatever has the focus, as a keyboard does (no click, no element chosen by the test).</summary>
    public static void Keys(this Browser b, string keys) => new Actions(b.Driver).SendKeys(keys).Perform();

    /// <summary>Replaces the text of the focused field by keyboard: Ctrl+A, then the new text.</summary>
    public static void Retype(this Browser b, string text) =>
        new Actions(b.Driver).KeyDown(OpenQA.Selenium.Keys.Control).SendKeys("a").KeyUp(OpenQA.Selenium.Keys.Control).SendKeys(text).Perform();

    /// <summary>Presses Tab until the element with this id has the focus (at most 60 times), as a keyboard user would.</summary>
    public static void TabTo(this Browser b, string id)
    {
        for (var i = 0; i < 60; i++)
        {
            if (b.Focused().GetAttribute("id") == id) return;
            b.Keys(OpenQA.Selenium.Keys.Tab);
        }
        Assert.Fail($"Tab never reached #{id}");
    }
}
